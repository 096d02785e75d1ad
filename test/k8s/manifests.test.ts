/**
 * Static validation of the Kubernetes manifests under k8s/: each kustomization is rendered, every
 * object is validated against the Kubernetes OpenAPI schemas (and the InferencePool v1 schema),
 * then the cross-object facts no schema can express are checked: hardening, selectors, ports,
 * RBAC, config references, and the agreement between kvedge's flags, Redis and the vLLM example.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { renderKustomization, type Json, type K8sObject, type Rendered } from './support/kustomize.ts';
import {
  containers,
  effective,
  find,
  flagValue,
  id,
  namedPorts,
  ofKind,
  podLabels,
  replicas,
  selectedWorkloads,
  selectorStringSelects,
  selects,
  workloads,
} from './support/manifest-queries.ts';
import { assertSchemasAvailable, validateManifest } from './support/schema-validation.ts';
import { namedConfigs } from '../../src/scheduler/config/defaults.ts';

const K8S = fileURLToPath(new URL('../../k8s/', import.meta.url));
const KUSTOMIZATIONS = ['overlays/default', 'base', 'examples/vllm'] as const;
const NAMESPACE = 'kvedge';

const renders = new Map<string, Rendered[]>();
function render(path: (typeof KUSTOMIZATIONS)[number]): Rendered[] {
  let rendered = renders.get(path);
  if (rendered === undefined) {
    rendered = renderKustomization(`${K8S}${path}`);
    renders.set(path, rendered);
  }
  return rendered;
}

/** The full deployment (router + Redis) and the example fleet, as one cluster would hold them. */
const deployment = () => render('overlays/default');
const fleet = () => render('examples/vllm');
const everything = () => [...deployment(), ...fleet()];

const router = () => find(deployment(), 'Deployment', 'kvedge');
const routerContainer = () => containers(router()).find((c) => c.container.name === 'kvedge')!.container;
const routerArgs = (): string[] => routerContainer().args;
const vllm = () => find(fleet(), 'Deployment', 'vllm-qwen3-0-6b');
const vllmContainer = () => containers(vllm()).find((c) => c.container.name === 'vllm')!.container;

describe('kustomizations', () => {
  it.each(KUSTOMIZATIONS)('k8s/%s renders to uniquely named objects', (path) => {
    const rendered = render(path);
    expect(rendered.length).toBeGreaterThan(0);
    const keys = rendered.map(
      ({ object }) => `${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('the default overlay holds the router, its RBAC and config, and Redis with Sentinel', () => {
    const kinds = deployment()
      .map(({ object }) => id(object))
      .sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/kvedge',
        'ServiceAccount/kvedge',
        'Role/kvedge-discovery',
        'RoleBinding/kvedge-discovery',
        'Deployment/kvedge',
        'Service/kvedge',
        'PodDisruptionBudget/kvedge',
        'HorizontalPodAutoscaler/kvedge',
        'StatefulSet/kvedge-redis',
        'Service/kvedge-redis',
        'Service/kvedge-redis-sentinel',
        'PodDisruptionBudget/kvedge-redis',
        'NetworkPolicy/kvedge-redis',
      ]),
    );
    expect(ofKind(deployment(), 'ConfigMap').map((cm) => cm.metadata.name)).toEqual([
      expect.stringMatching(/^kvedge-config-[a-z0-9]{10}$/),
      expect.stringMatching(/^kvedge-env-[a-z0-9]{10}$/),
      expect.stringMatching(/^kvedge-redis-config-[a-z0-9]{10}$/),
    ]);
  });
});

describe('schemas', () => {
  it('the Kubernetes schema package is installed', async () => {
    await assertSchemasAvailable();
  });

  const all = (): Array<[string, K8sObject]> =>
    KUSTOMIZATIONS.flatMap((path) =>
      render(path).map(({ object }) => [`${path}: ${id(object)}`, object] as [string, K8sObject]),
    );

  it('every rendered object is valid for its apiVersion and kind, with no unknown fields', async () => {
    const problems: string[] = [];
    for (const [name, object] of all()) {
      for (const problem of await validateManifest(object)) problems.push(`${name} ${problem}`);
    }
    expect(problems).toEqual([]);
  });

  it('catches what it must: a wrong type, a missing required field, an unknown field', async () => {
    const broken = structuredClone(router());
    const spec = (broken.spec as Json).template.spec;
    spec.containers[0].ports[0].containerPort = '8080';
    delete spec.containers[0].name;
    spec.containers[0].readinessprobe = spec.containers[0].readinessProbe;
    const problems = (await validateManifest(broken)).join('\n');
    expect(problems).toMatch(/containers\/0\/ports\/0\/containerPort: must be integer/);
    expect(problems).toMatch(/containers\/0: must have required property name/);
    expect(problems).toMatch(/containers\/0\/readinessprobe: unknown field/);

    const pool = structuredClone(find(fleet(), 'InferencePool', 'qwen3-0-6b'));
    (pool.spec as Json).targetPortNumber = 8000;
    (pool.spec as Json).targetPorts = [{ number: 8000 }, { number: 8000 }];
    const poolProblems = (await validateManifest(pool)).join('\n');
    expect(poolProblems).toMatch(/targetPortNumber/);
    expect(poolProblems).toMatch(/port number must be unique/);
  });
});

describe('every container is hardened and sized', () => {
  const refs = () => workloads(everything()).flatMap(containers);
  const name = (ref: ReturnType<typeof refs>[number]) => `${id(ref.workload)}/${ref.container.name}`;

  it('has CPU and memory requests and a memory limit', () => {
    for (const ref of refs()) {
      const resources = ref.container.resources ?? {};
      expect(resources.requests?.cpu, name(ref)).toBeDefined();
      expect(resources.requests?.memory, name(ref)).toBeDefined();
      expect(resources.limits?.memory, name(ref)).toBeDefined();
    }
  });

  it('runs as non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp', () => {
    for (const ref of refs()) {
      const context = ref.container.securityContext ?? {};
      expect(effective(ref, 'runAsNonRoot'), name(ref)).toBe(true);
      expect(effective(ref, 'runAsUser'), name(ref)).toBeGreaterThan(0);
      expect(context.readOnlyRootFilesystem, name(ref)).toBe(true);
      expect(context.allowPrivilegeEscalation, name(ref)).toBe(false);
      expect(context.capabilities?.drop, name(ref)).toContain('ALL');
      expect(context.capabilities?.add ?? [], name(ref)).toEqual([]);
      expect(effective(ref, 'seccompProfile')?.type, name(ref)).toBe('RuntimeDefault');
    }
  });

  it('has readiness and liveness probes on ports the container declares', () => {
    for (const ref of refs().filter((r) => !r.init)) {
      const declared = new Set<string | number>();
      for (const port of ref.container.ports ?? []) declared.add(port.name).add(port.containerPort);
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        const spec = ref.container[probe];
        expect(spec, `${name(ref)} ${probe}`).toBeDefined();
        const port = spec.httpGet?.port ?? spec.tcpSocket?.port;
        if (port !== undefined) expect(declared.has(port), `${name(ref)} ${probe} port ${port}`).toBe(true);
        else expect(spec.exec?.command?.length, `${name(ref)} ${probe}`).toBeGreaterThan(0);
      }
    }
  });

  it('pins its image and mounts only declared volumes', () => {
    for (const ref of refs()) {
      expect(ref.container.image, name(ref)).toMatch(/^[^:]+:(?!latest$)[\w.-]+$/);
      const volumes = new Set((ref.podSpec.volumes ?? []).map((v: Json) => v.name));
      for (const mount of ref.container.volumeMounts ?? [])
        expect(volumes.has(mount.name), `${name(ref)} ${mount.name}`).toBe(true);
    }
  });
});

describe('objects refer to each other correctly', () => {
  it('workload selectors match their own pod templates', () => {
    for (const workload of workloads(everything())) {
      expect(selects((workload.spec as Json).selector, podLabels(workload)), id(workload)).toBe(true);
    }
  });

  it('every Service selects pods that declare its target ports', () => {
    for (const service of ofKind(everything(), 'Service')) {
      const spec = service.spec as Json;
      const targets = selectedWorkloads(everything(), spec.selector);
      expect(targets.length, id(service)).toBeGreaterThan(0);
      for (const port of spec.ports) {
        for (const target of targets) {
          const ports = namedPorts(target);
          const ok =
            typeof port.targetPort === 'string'
              ? ports.has(port.targetPort)
              : [...ports.values()].includes(port.targetPort ?? port.port);
          expect(ok, `${id(service)} port ${port.name} -> ${id(target)}`).toBe(true);
        }
      }
    }
  });

  it('the router Service exposes http 8080 and admin 9090 of the router pods', () => {
    const service = find(deployment(), 'Service', 'kvedge');
    expect((service.spec as Json).type).toBe('ClusterIP');
    expect(selectedWorkloads(deployment(), (service.spec as Json).selector)).toEqual([router()]);
    expect((service.spec as Json).ports.map((p: Json) => [p.name, p.port, p.targetPort])).toEqual([
      ['http', 8080, 'http'],
      ['admin', 9090, 'admin'],
    ]);
    expect(Object.fromEntries(namedPorts(router()))).toEqual({ http: 8080, admin: 9090 });
  });

  it('PodDisruptionBudgets select one workload and always leave a pod running', () => {
    for (const pdb of ofKind(deployment(), 'PodDisruptionBudget')) {
      const spec = pdb.spec as Json;
      const [target, ...others] = selectedWorkloads(deployment(), spec.selector);
      expect(target, id(pdb)).toBeDefined();
      expect(others, id(pdb)).toEqual([]);
      const allowedDown = spec.maxUnavailable ?? replicas(target!) - spec.minAvailable;
      expect(allowedDown, id(pdb)).toBeGreaterThanOrEqual(1);
      expect(allowedDown, id(pdb)).toBeLessThan(replicas(target!));
    }
    expect((find(deployment(), 'PodDisruptionBudget', 'kvedge').spec as Json).minAvailable).toBe(1);
  });

  it('the HorizontalPodAutoscaler scales the router on CPU, which the router requests', () => {
    const spec = find(deployment(), 'HorizontalPodAutoscaler', 'kvedge').spec as Json;
    expect(spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'kvedge' });
    expect(spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas);
    expect(spec.metrics).toContainEqual(
      expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) }),
    );
    expect(routerContainer().resources.requests.cpu).toBeDefined();
    expect(replicas(router())).toBe(2);
  });

  it('every ConfigMap a pod uses exists (under its hashed name) and has the keys used', () => {
    const configMaps = new Map(ofKind(everything(), 'ConfigMap').map((cm) => [cm.metadata.name, cm]));
    for (const workload of workloads(everything())) {
      for (const { podSpec, container } of containers(workload)) {
        const refs: Array<{ name: string; key?: string }> = [];
        for (const volume of podSpec.volumes ?? [])
          if (volume.configMap) refs.push({ name: volume.configMap.name });
        for (const from of container.envFrom ?? [])
          if (from.configMapRef) refs.push({ name: from.configMapRef.name });
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.configMapKeyRef;
          if (ref) refs.push({ name: ref.name, key: ref.key });
        }
        for (const ref of refs) {
          const configMap = configMaps.get(ref.name);
          expect(configMap, `${id(workload)} uses ConfigMap ${ref.name}`).toBeDefined();
          if (ref.key !== undefined)
            expect((configMap!.data as Json)[ref.key], `${ref.name}.${ref.key}`).toBeDefined();
        }
      }
    }
  });

  it('puts every namespaced object, and the RoleBinding subject, in namespace kvedge', () => {
    for (const { object } of [...deployment(), ...fleet()]) {
      if (object.kind !== 'Namespace') expect(object.metadata.namespace, id(object)).toBe(NAMESPACE);
    }
    for (const binding of ofKind(deployment(), 'RoleBinding')) {
      for (const subject of binding.subjects as Json[])
        expect(subject.namespace, id(binding)).toBe(binding.metadata.namespace);
    }
  });

  it("binds the router's service account to get/list/watch on pods and inferencepools", () => {
    const serviceAccount = (router().spec as Json).template.spec.serviceAccountName;
    expect(ofKind(deployment(), 'ServiceAccount').map((sa) => sa.metadata.name)).toContain(serviceAccount);
    const grants = ofKind(deployment(), 'RoleBinding')
      .filter((b) =>
        (b.subjects as Json[]).some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount),
      )
      .map((b) => find(deployment(), (b.roleRef as Json).kind, (b.roleRef as Json).name))
      .flatMap((role) => role.rules as Json[]);
    const allows = (group: string, resource: string, verb: string) =>
      grants.some(
        (rule) =>
          rule.apiGroups.includes(group) && rule.resources.includes(resource) && rule.verbs.includes(verb),
      );
    for (const verb of ['get', 'list', 'watch']) {
      expect(allows('', 'pods', verb), `pods ${verb}`).toBe(true);
      expect(allows('inference.networking.k8s.io', 'inferencepools', verb), `inferencepools ${verb}`).toBe(
        true,
      );
    }
    // Read-only: discovery never needs to write.
    expect(
      grants.flatMap((rule) => rule.verbs).every((verb: string) => ['get', 'list', 'watch'].includes(verb)),
    ).toBe(true);
  });
});

describe('the router container', () => {
  it('serves on the ports its flags name, with probes on /health and /ready', () => {
    const args = routerArgs();
    expect(args[0]).toBe('serve');
    expect(Number(flagValue(args, '--port'))).toBe(namedPorts(router()).get('http'));
    expect(Number(flagValue(args, '--admin-port'))).toBe(namedPorts(router()).get('admin'));
    expect(flagValue(args, '--discovery')).toBe('kubernetes');
    expect(routerContainer().livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
    expect(routerContainer().readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
  });

  it('passes only flags the kvedge CLI accepts', () => {
    // Render the CLI's own help, so a flag the Deployment uses but the CLI lacks fails here, not in a crash loop.
    const help = execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/kvedge.ts', 'serve', '--help'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    const flags = routerArgs().filter((arg) => arg.startsWith('--'));
    expect(flags.length).toBeGreaterThan(5);
    for (const flag of flags) expect(help, flag).toContain(`${flag} `);
  }, 30_000);

  it('defines every $(VAR) its arguments use', () => {
    const container = routerContainer();
    const defined = new Set<string>((container.env ?? []).map((e: Json) => e.name));
    for (const from of container.envFrom ?? []) {
      const configMap = ofKind(deployment(), 'ConfigMap').find(
        (cm) => cm.metadata.name === from.configMapRef.name,
      );
      for (const key of Object.keys((configMap?.data as Json) ?? {})) defined.add(key);
    }
    const used = routerArgs().flatMap((arg) =>
      [...arg.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]),
    );
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(defined.has(name as string), `$(${name})`).toBe(true);
  });

  it('keeps only /tmp writable', () => {
    const mounts = routerContainer().volumeMounts as Json[];
    const volumes = (router().spec as Json).template.spec.volumes as Json[];
    const writable = mounts.filter((m) => !m.readOnly).map((m) => m.mountPath);
    expect(writable).toEqual(['/tmp']);
    expect(
      volumes.find((v) => v.name === mounts.find((m) => m.mountPath === '/tmp').name).emptyDir,
    ).toBeDefined();
  });

  it("mounts kvedge's own policy as an EndpointPickerConfig the router loads", () => {
    const configPath = flagValue(routerArgs(), '--config') as string;
    const mount = (routerContainer().volumeMounts as Json[]).find((m) =>
      configPath.startsWith(`${m.mountPath}/`),
    );
    expect(mount, `a volume mounted over ${configPath}`).toBeDefined();
    const volume = ((router().spec as Json).template.spec.volumes as Json[]).find(
      (v) => v.name === mount.name,
    );
    const configMap = find(deployment(), 'ConfigMap', volume.configMap.name);
    const text = (configMap.data as Json)[configPath.slice(mount.mountPath.length + 1)] as string;
    expect(text, `key for ${configPath}`).toBeDefined();

    const parsed = parseYaml(text);
    expect(parsed.apiVersion).toBe('llm-d.ai/v1alpha1');
    expect(parsed.kind).toBe('EndpointPickerConfig');
    // The same policy as the router's config-less default (the named config `kvedge`).
    expect(parsed).toEqual(parseYaml(namedConfigs.kvedge));
    const loaded = loadSchedulerConfig(text);
    expect(loaded.scheduler.profiles.get('default')!.picker.type).toBe('kvedge-picker');
    expect(loaded.scheduler.producers.map((p) => p.type)).toEqual([
      'precise-prefix-cache-producer',
      'approx-prefix-cache-producer',
    ]);
  });
});

describe('Redis with Sentinel', () => {
  const statefulSet = () => find(deployment(), 'StatefulSet', 'kvedge-redis');
  const redisConfig = () =>
    find(
      deployment(),
      'ConfigMap',
      ofKind(deployment(), 'ConfigMap').find((cm) => cm.metadata.name.startsWith('kvedge-redis-config-'))!
        .metadata.name,
    );
  const initScript = () => (redisConfig().data as Json)['init.sh'] as string;
  const shellVar = (name: string) => initScript().match(new RegExp(`^${name}=(\\S+)$`, 'm'))?.[1];
  const envData = () =>
    ofKind(deployment(), 'ConfigMap').find((cm) => cm.metadata.name.startsWith('kvedge-env-'))!.data as Json;

  it('runs three pods, each with redis and a sentinel, behind a headless Service', () => {
    const spec = statefulSet().spec as Json;
    expect(spec.replicas).toBe(3);
    expect(
      containers(statefulSet())
        .filter((c) => !c.init)
        .map((c) => c.container.name),
    ).toEqual(['redis', 'sentinel']);
    const governing = find(deployment(), 'Service', spec.serviceName);
    expect((governing.spec as Json).clusterIP).toBe('None');
    expect(Object.fromEntries(namedPorts(statefulSet()))).toEqual({ redis: 6379, sentinel: 26379 });
  });

  it("gives the router every sentinel's stable address and the monitored master's name", () => {
    const spec = statefulSet().spec as Json;
    const expected = Array.from(
      { length: spec.replicas },
      (_, i) => `${statefulSet().metadata.name}-${i}.${spec.serviceName}:26379`,
    );
    expect(envData().KVEDGE_REDIS_SENTINELS.split(',')).toEqual(expected);
    expect(envData().KVEDGE_REDIS_SENTINEL_MASTER).toBe(shellVar('MASTER_SET'));
    expect(flagValue(routerArgs(), '--redis-sentinels')).toBe('$(KVEDGE_REDIS_SENTINELS)');
    expect(flagValue(routerArgs(), '--redis-sentinel-master')).toBe('$(KVEDGE_REDIS_SENTINEL_MASTER)');
  });

  it('renders its configuration from a ConfigMap that matches the StatefulSet', () => {
    const data = redisConfig().data as Json;
    expect(Object.keys(data).sort()).toEqual(['init.sh', 'redis.conf', 'sentinel.conf']);
    expect(shellVar('SERVICE')).toBe((statefulSet().spec as Json).serviceName);
    expect(Number(shellVar('REPLICAS'))).toBe((statefulSet().spec as Json).replicas);
    expect(initScript()).toMatch(/sentinel monitor \$\{MASTER_SET\} \$\{master\} 6379 2$/m);
    expect(data['redis.conf']).toMatch(/^port 6379$/m);
    expect(data['sentinel.conf']).toMatch(/^port 26379$/m);
    expect(data['sentinel.conf']).toMatch(/^sentinel resolve-hostnames yes$/m);
  });

  it('admits only router and Redis pods', () => {
    const policy = find(deployment(), 'NetworkPolicy', 'kvedge-redis').spec as Json;
    expect(selectedWorkloads(deployment(), policy.podSelector)).toEqual([statefulSet()]);
    const from = policy.ingress[0].from[0].podSelector;
    expect(selects(from, podLabels(router()))).toBe(true);
    expect(selects(from, podLabels(statefulSet()))).toBe(true);
    expect(selects(from, podLabels(vllm()))).toBe(false);
  });
});

describe('the vLLM example', () => {
  const args = (): string[] => vllmContainer().args;
  const env = (name: string) => (vllmContainer().env as Json[]).find((e) => e.name === name);
  const kvEventsConfig = () => JSON.parse(flagValue(args(), '--kv-events-config') as string);

  it('publishes KV events over ZeroMQ on a declared port, topic kv@<pod ip>:<port>@<model>', () => {
    const config = kvEventsConfig();
    expect(config).toMatchObject({
      enable_kv_cache_events: true,
      publisher: 'zmq',
      endpoint: 'tcp://*:5557',
    });
    const model = args()[0];
    expect(config.topic).toBe(`kv@$(POD_IP):${flagValue(args(), '--port')}@${model}`);
    expect(env('POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(namedPorts(vllm()).get('kv-events')).toBe(5557);
  });

  it('hashes blocks reproducibly (sha256_cbor, PYTHONHASHSEED="0") and asks for a GPU', () => {
    expect(flagValue(args(), '--prefix-caching-hash-algo')).toBe('sha256_cbor');
    expect(env('PYTHONHASHSEED').value).toBe('0');
    expect(vllmContainer().resources.limits['nvidia.com/gpu']).toBe('1');
  });

  it('is what the router discovers: selector, serving port and KV-event port agree', () => {
    const labels = podLabels(vllm());
    expect(labels['llm-d.ai/inference-serving']).toBe('true');
    expect(selectorStringSelects(flagValue(routerArgs(), '--k8s-selector') as string, labels)).toBe(true);
    expect(
      selectorStringSelects(flagValue(routerArgs(), '--k8s-selector') as string, podLabels(router())),
    ).toBe(false);
    expect(Number(flagValue(routerArgs(), '--k8s-target-port'))).toBe(namedPorts(vllm()).get('http'));
    expect(Number(flagValue(routerArgs(), '--kv-events-port'))).toBe(namedPorts(vllm()).get('kv-events'));
    expect(vllm().metadata.namespace).toBe(router().metadata.namespace);
  });

  it('has an InferencePool over the same pods and serving port', () => {
    const pool = find(fleet(), 'InferencePool', 'qwen3-0-6b').spec as Json;
    expect(selectedWorkloads(everything(), pool.selector)).toEqual([vllm()]);
    expect(pool.targetPorts).toEqual([{ number: namedPorts(vllm()).get('http') }]);
  });
});
