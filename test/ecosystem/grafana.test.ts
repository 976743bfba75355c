import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import request from 'supertest';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { dotImage } from '../helpers/images.js';
import { startService, type RunningService } from '../helpers/service.js';
import { requireTool } from '../helpers/required-tool.js';

const run = promisify(execFile);
const dashboardPath = 'deploy/grafana/dashboards/huber-keypoints.json';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource: { type: string; uid: string };
  targets: Array<{ refId: string; expr: string }>;
}

/** Grafana's variables replaced by values Prometheus accepts, so the expressions can be parsed for real. */
const withoutVariables = (expr: string) => expr.replace(/\$__rate_interval/g, '5m').replace(/\$job/g, '.+');

const promqlWords = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'topk',
  'bottomk',
  'quantile',
  'stddev',
  'stdvar',
  'count_values',
  'group',
  'inf',
  'nan',
]);

/** Metric names an expression selects: identifiers outside label matchers, ranges and grouping clauses that are not calls. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    // Numbers and durations (`offset 5m`, 1e-3), whose unit letters are not names.
    .replace(/(?<![A-Za-z0-9_:])\d+(?:\.\d+)?(?:e[+-]?\d+|ms|[smhdwy])?/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    if (match[2] || promqlWords.has(match[1]!.toLowerCase()) || /^\d/.test(match[1]!)) continue;
    names.add(match[1]!);
  }
  return [...names];
}

const dashboard = JSON.parse(await readFile(dashboardPath, 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; current?: { value: string } }> };
};
const expressions = dashboard.panels.flatMap((panel) =>
  panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })),
);

describe('the Grafana dashboard', () => {
  test('is a well-formed dashboard: unique ids, panels inside the 24-column grid, Prometheus queries on the chosen data source', () => {
    assert.equal(dashboard.uid, 'huber-keypoints');
    const ids = dashboard.panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const panel of dashboard.panels) {
      assert.ok(
        panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24 && panel.gridPos.h > 0,
        `${panel.title}: gridPos`,
      );
      assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, `${panel.title}: datasource`);
      assert.ok(panel.targets.length > 0, `${panel.title}: no query`);
      const refIds = panel.targets.map((target) => target.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${panel.title}: refIds are unique`);
    }
    const variables = Object.fromEntries(dashboard.templating.list.map((variable) => [variable.name, variable]));
    assert.equal(variables.datasource?.type, 'datasource');
    assert.equal(variables.datasource?.query, 'prometheus');
    assert.equal(variables.job?.type, 'query');
  });

  test('covers request rate, latency quantiles, batch size, queue, execution provider and uncertainty drift', () => {
    const titles = dashboard.panels.map((panel) => panel.title).join(' | ');
    for (const topic of [
      /request rate/i,
      /latency quantiles/i,
      /batch size/i,
      /queue/i,
      /execution provider/i,
      /uncertainty drift/i,
    ]) {
      assert.match(titles, topic);
    }
    const latency = expressions.filter(({ panel }) => /latency quantiles/i.test(panel)).map(({ expr }) => expr);
    for (const quantile of ['0.5', '0.95', '0.99'])
      assert.ok(
        latency.some((expr) => expr.includes(`histogram_quantile(${quantile},`)),
        `p${quantile}`,
      );
  });

  test('its data source is the one Grafana provisioning defines', async () => {
    const datasources = parse(await readFile('deploy/grafana/provisioning/datasources/prometheus.yml', 'utf8')) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    const prometheus = datasources.datasources.find((datasource) => datasource.type === 'prometheus');
    assert.ok(prometheus);
    const variable = dashboard.templating.list.find((entry) => entry.name === 'datasource');
    assert.equal(variable?.current?.value, prometheus.uid);
    const providers = parse(await readFile('deploy/grafana/provisioning/dashboards/huber-keypoints.yml', 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    assert.equal(providers.providers[0]?.type, 'file');
  });

  test('every query parses as PromQL (promtool check rules on the expressions)', async () => {
    await requireTool('promtool');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'huber-dashboard-'));
    try {
      const rules = {
        groups: [
          {
            name: 'dashboard',
            rules: expressions.map(({ expr }, index) => ({ record: `dashboard:query:${index}`, expr: withoutVariables(expr) })),
          },
        ],
      };
      await writeFile(path.join(dir, 'rules.yml'), stringify(rules));
      const { stdout } = await run('promtool', ['check', 'rules', 'rules.yml'], { cwd: dir });
      assert.match(stdout, new RegExp(`SUCCESS: ${expressions.length} rules found`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('against the service', () => {
    let service: RunningService;
    let exposed: Set<string>;
    beforeAll(async () => {
      service = await startService({ models: ['dots'] });
      const png = await dotImage(160, 120, [
        { x: 50, y: 60, sigma: 2 },
        { x: 110, y: 60, sigma: 2 },
      ]);
      const response = await request(service.url)
        .post('/v1/models/dots/predict')
        .send({ image: png.toString('base64') });
      assert.equal(response.status, 200);
      // Labelled series appear once observed: one fused point for the evidence panels.
      const fused = await request(service.url)
        .post('/v1/fuse')
        .send({
          points: [
            {
              observations: [
                {
                  mean: [0, 0],
                  covariance: [
                    [1, 0],
                    [0, 1],
                  ],
                },
                {
                  mean: [1, 0],
                  covariance: [
                    [1, 0],
                    [0, 1],
                  ],
                },
              ],
            },
          ],
        });
      assert.equal(fused.status, 200);
      const text = await (await fetch(`${service.url}/metrics`)).text();
      exposed = new Set(
        text
          .split('\n')
          .filter((line) => line && !line.startsWith('#'))
          .map((line) => /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(line)![0]),
      );
    });
    afterAll(async () => service.close());

    test("every metric a panel or variable queries is in the service's /metrics output", () => {
      const variableQueries = dashboard.templating.list
        .map((variable) =>
          typeof variable.query === 'object' && variable.query ? (variable.query as { query: string }).query : '',
        )
        .filter((query) => query.startsWith('label_values('))
        .map((query) => ({ panel: 'variable', expr: query.replace(/^label_values\(([^,)]+).*$/, '$1') }));
      let checked = 0;
      for (const { panel, expr } of [...expressions, ...variableQueries]) {
        const names = metricNames(expr);
        assert.ok(names.length > 0, `${panel}: no metric found in ${expr}`);
        for (const name of names) {
          assert.ok(exposed.has(name), `${panel}: ${name} is not in /metrics (${expr})`);
          checked++;
        }
      }
      assert.ok(checked >= expressions.length);
    });

    test('the metric-name extraction sees through functions, matchers and grouping', () => {
      assert.deepEqual(
        metricNames(
          'histogram_quantile(0.95, sum by (le, model) (rate(a_bucket{job=~"x", le!="b"}[5m]))) / on (model) b_total offset 5m',
        ),
        ['a_bucket', 'b_total'],
      );
    });
  });
});
