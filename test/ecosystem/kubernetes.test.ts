import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'vitest';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';

type Json = Record<string, any>;
type ModelClass = { prototype: { validate(): void } };

const directory = 'deploy/kubernetes';
const models: Record<string, ModelClass> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
};

/**
 * The models' validate() checks types and required fields but lets unknown fields through, so a
 * misspelt `readinesProbe` would pass. Every field a schema defines is read by its compiled
 * validator; a field it never reads is one the schema does not know. Returns those, outermost only.
 */
function unknownFields(model: ModelClass, manifest: Json): string[] {
  const read = new Map<object, Set<string>>();
  const proxies = new WeakMap<object, object>();
  const wrap = (value: unknown): unknown => {
    if (!value || typeof value !== 'object') return value;
    const existing = proxies.get(value);
    if (existing) return existing;
    read.set(value, new Set());
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === 'string') read.get(target)!.add(key);
        return wrap(Reflect.get(target, key, receiver));
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  const copy = structuredClone(manifest);
  model.prototype.validate.call(wrap(copy));
  const unknown: string[] = [];
  const walk = (node: unknown, at: string) => {
    if (Array.isArray(node)) return node.forEach((item, index) => walk(item, `${at}[${index}]`));
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (read.get(node)?.has(key)) walk(value, `${at}.${key}`);
      else unknown.push(`${at}.${key}`);
    }
  };
  walk(copy, '');
  return unknown;
}

function modelFor(manifest: Json): ModelClass {
  const model = models[`${manifest.apiVersion} ${manifest.kind}`];
  assert.ok(model, `no model for ${manifest.apiVersion} ${manifest.kind}`);
  return model;
}

/** validate() from kubernetes-models, then the unknown-field check; throws naming the file and field. */
function check(file: string, manifest: Json): void {
  const model = modelFor(manifest);
  model.prototype.validate.call(structuredClone(manifest));
  assert.deepEqual(unknownFields(model, manifest), [], `${file}: fields the ${manifest.kind} schema does not define`);
}

const files = (await readdir(directory)).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml').sort();
const manifests: Array<{ file: string; manifest: Json }> = [];
for (const file of files) {
  for (const document of parseAllDocuments(await readFile(path.join(directory, file), 'utf8'))) {
    assert.deepEqual(document.errors, [], `${file}: YAML errors`);
    manifests.push({ file, manifest: document.toJSON() as Json });
  }
}
const byKind = (kind: string) => manifests.filter(({ manifest }) => manifest.kind === kind).map(({ manifest }) => manifest);
const deployments = byKind('Deployment');
const cpu = deployments.find((deployment) => deployment.metadata.name === 'huber-keypoints')!;
const gpu = deployments.find((deployment) => deployment.metadata.name === 'huber-keypoints-gpu')!;
const [service] = byKind('Service');
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('Kubernetes manifests', () => {
  test('every manifest validates against its kubernetes-models schema, with no unknown field', () => {
    assert.deepEqual(manifests.map(({ manifest }) => manifest.kind).sort(), [
      'Deployment',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Service',
      'ServiceMonitor',
    ]);
    for (const { file, manifest } of manifests) check(file, manifest);
  });

  test('a misspelt field, a wrong type and a missing required field each fail', () => {
    const typo = structuredClone(cpu);
    const container = typo.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
    assert.throws(() => check('typo', typo), /readinesProbe/);

    const wrongType = structuredClone(cpu);
    wrongType.spec.replicas = 'two';
    assert.throws(() => check('wrong type', wrongType), /replicas must be integer/);

    const monitor = structuredClone(byKind('ServiceMonitor')[0]!);
    monitor.spec.endpoints[0].intervall = monitor.spec.endpoints[0].interval;
    assert.throws(() => check('monitor typo', monitor), /intervall/);

    const missing = structuredClone(service!);
    delete missing.spec.ports[0].port;
    assert.throws(() => check('missing', missing), /port/);
  });

  test('the Deployments probe /readyz and /healthz on the container port, with a start-up allowance for model generation', () => {
    for (const deployment of [cpu, gpu]) {
      const [container] = deployment.spec.template.spec.containers;
      const name = deployment.metadata.name;
      const port = container.ports.find((entry: Json) => entry.name === 'http');
      const env = Object.fromEntries(container.env.map((entry: Json) => [entry.name, entry.value]));
      assert.equal(String(port.containerPort), env.PORT, `${name}: container port is PORT`);
      assert.equal(env.HOST, '0.0.0.0');
      assert.equal(container.readinessProbe.httpGet.path, '/readyz');
      assert.equal(container.livenessProbe.httpGet.path, '/healthz');
      assert.equal(container.startupProbe.httpGet.path, '/healthz');
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'])
        assert.equal(container[probe].httpGet.port, 'http');
      const startupSeconds = container.startupProbe.periodSeconds * container.startupProbe.failureThreshold;
      assert.ok(startupSeconds >= 300, `${name}: ${startupSeconds} s to start`);
      for (const resource of ['cpu', 'memory']) {
        assert.ok(container.resources.requests[resource], `${name}: ${resource} request`);
        assert.ok(container.resources.limits[resource], `${name}: ${resource} limit`);
      }
      assert.equal(deployment.spec.template.spec.securityContext.runAsNonRoot, true);
      assert.ok(
        matches(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels),
        `${name}: selector matches its pods`,
      );
    }
  });

  test('the GPU variant asks for one nvidia.com/gpu and runs on CUDA only; the CPU one on CPU', () => {
    const gpuContainer = gpu.spec.template.spec.containers[0];
    assert.equal(gpuContainer.resources.limits['nvidia.com/gpu'], 1);
    assert.equal(gpuContainer.env.find((entry: Json) => entry.name === 'EXECUTION_PROVIDERS').value, 'cuda');
    const cpuContainer = cpu.spec.template.spec.containers[0];
    assert.equal(cpuContainer.resources.limits['nvidia.com/gpu'], undefined);
    assert.equal(cpuContainer.env.find((entry: Json) => entry.name === 'EXECUTION_PROVIDERS').value, 'cpu');
    assert.ok(
      !matches(cpu.spec.selector.matchLabels, gpu.spec.template.metadata.labels),
      "the Deployments do not claim each other's pods",
    );
  });

  test('Service, ServiceMonitor, HorizontalPodAutoscaler and PodDisruptionBudget point at the right objects', () => {
    for (const deployment of [cpu, gpu])
      assert.ok(matches(service!.spec.selector, deployment.spec.template.metadata.labels), 'Service selects the pods');
    assert.equal(service!.spec.ports[0].targetPort, 'http');
    const [monitor] = byKind('ServiceMonitor');
    assert.ok(matches(monitor!.spec.selector.matchLabels, service!.metadata.labels), 'ServiceMonitor selects the Service');
    assert.ok(service!.spec.ports.some((port: Json) => port.name === monitor!.spec.endpoints[0].port));
    assert.equal(monitor!.spec.endpoints[0].path, '/metrics');
    const [autoscaler] = byKind('HorizontalPodAutoscaler');
    assert.deepEqual(autoscaler!.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: cpu.metadata.name });
    assert.ok(autoscaler!.spec.minReplicas >= 2 && autoscaler!.spec.maxReplicas > autoscaler!.spec.minReplicas);
    const [budget] = byKind('PodDisruptionBudget');
    assert.ok(matches(budget!.spec.selector.matchLabels, cpu.spec.template.metadata.labels));
    assert.ok(budget!.spec.minAvailable < autoscaler!.spec.minReplicas, 'a node drain can always proceed');
  });

  test('kustomization.yaml lists existing files, everything but the GPU variant', async () => {
    const [kustomization] = parseAllDocuments(await readFile(path.join(directory, 'kustomization.yaml'), 'utf8')).map(
      (document) => document.toJSON() as Json,
    );
    for (const resource of kustomization!.resources as string[]) assert.ok(existsSync(path.join(directory, resource)), resource);
    assert.deepEqual(
      [...kustomization!.resources].sort(),
      files.filter((file) => file !== 'deployment-gpu.yaml'),
    );
  });
});
