/**
 * Discovery of vLLM pods through the Kubernetes API, like llm-d's pod reconciler (reference §6).
 *
 * Two modes:
 * - **selector** (llm-d's `--endpoint-selector`): pods of `namespace` matching `labelSelector`,
 *   one endpoint per entry of `targetPorts`;
 * - **InferencePool** (`poolName`): the `inference.networking.k8s.io/v1` InferencePool's
 *   `spec.selector.matchLabels` and `spec.targetPorts` stand in for both. The pool is watched too:
 *   an edited selector starts a watch of the new pod set, which replaces the old one only once it
 *   has been listed, so a selector change never empties the fleet in between.
 *
 * A pod is an endpoint while it is Ready, has an IP and is not terminating. Each endpoint is
 * `podIP:port` with the pod's labels and, by default, the KV-event publisher
 * `tcp://podIP:5557` (the port vLLM's `--kv-events-config` binds in llm-d's deployments).
 *
 * Everything is list-then-watch with resource versions ({@link Reflector}): changes arrive in
 * well under a second, a compacted version (410 Gone) triggers a re-list, and connection failures
 * are retried with backoff while the last good endpoint set stays current. Required RBAC in the
 * namespace: get/list/watch on `pods` and, in pool mode, on `inferencepools.inference.networking.k8s.io`.
 */
import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { BaseDiscovery } from './base-discovery.ts';
import type { KubernetesDiscoveryOptions } from './discovery.ts';
import type { BackoffOptions } from './kubernetes-backoff.ts';
import { loadKubeConfig } from './kubernetes-config.ts';
import {
  INFERENCE_POOL_GROUP,
  INFERENCE_POOL_PLURAL,
  INFERENCE_POOL_VERSION,
  parseInferencePool,
} from './kubernetes-inference-pool.ts';
import { endpointsFromPods, type PodObject } from './kubernetes-pods.ts';
import { Reflector, type ListPage, type ObjectWithMeta } from './kubernetes-reflector.ts';

export type { KubernetesDiscoveryOptions } from './discovery.ts';
export { defaultNamespace, isInCluster, loadKubeConfig } from './kubernetes-config.ts';

/** vLLM's default KV-event PUB port (`tcp://*:5557`). */
export const DEFAULT_KV_EVENTS_PORT = 5557;

/** {@link KubernetesDiscoveryOptions} plus connection and tuning settings. */
export interface KubernetesDiscoveryConfig extends KubernetesDiscoveryOptions {
  /** API server access; default {@link loadKubeConfig} (in-cluster, else kubeconfig). */
  readonly kubeConfig?: KubeConfig;
  /**
   * Whether endpoints carry a KV-event endpoint (`tcp://podIP:kvEventsPort`, default port 5557).
   * Default true; set false for fleets that do not publish KV events.
   */
  readonly kvEvents?: boolean;
  /** Reconnect backoff; default 500 ms doubling to 30 s, with jitter. */
  readonly backoff?: BackoffOptions;
  /** Server-side watch timeout before jitter (default 300 s). */
  readonly watchTimeoutSeconds?: number;
  /** Replace a watch that delivered nothing for this long (default: watch timeout + 30 s). */
  readonly stallTimeoutMs?: number;
  /** Objects per list request (paging); default 500. */
  readonly listPageSize?: number;
}

/** A pod watch and the ports its pods serve on. */
interface PodWatch {
  readonly reflector: Reflector<PodObject>;
  readonly labelSelector: string;
  targetPorts: readonly number[];
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * ```ts
 * const discovery = new KubernetesDiscovery({
 *   namespace: defaultNamespace(),
 *   labelSelector: 'llm-d.ai/inference-serving=true',
 *   targetPorts: [8000],
 * });
 * discovery.on('change', (endpoints) => registry.update(endpoints));
 * discovery.on('refreshError', (error) => log.warn(error.message));
 * await discovery.start();
 * ```
 */
export class KubernetesDiscovery extends BaseDiscovery {
  readonly kind = 'kubernetes';
  readonly namespace: string;
  readonly #config: KubernetesDiscoveryConfig;
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #watch: Watch;
  readonly #kvEventsPort: number | null;
  readonly #kvReplayPort: number | null;
  /** Exactly one of these is set (validated). */
  readonly #labelSelector: string | undefined;
  readonly #poolName: string | undefined;
  #poolReflector: Reflector<ObjectWithMeta> | undefined;
  /** The watch whose pods are the published endpoints. */
  #active: PodWatch | undefined;
  /** A watch for a new pool selector, promoted to {@link #active} once it has listed. */
  #pending: PodWatch | undefined;
  #started: Deferred | undefined;
  #ready = false;
  #closed = false;

  /**
   * @throws {Error} on inconsistent options (both or neither of selector and pool, bad ports), or
   *   when no `kubeConfig` is given and none can be found ({@link loadKubeConfig}).
   */
  constructor(config: KubernetesDiscoveryConfig) {
    super();
    validateConfig(config);
    this.#config = config;
    this.namespace = config.namespace;
    const kc = config.kubeConfig ?? loadKubeConfig();
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#watch = new Watch(kc);
    this.#kvEventsPort = config.kvEvents === false ? null : (config.kvEventsPort ?? DEFAULT_KV_EVENTS_PORT);
    this.#kvReplayPort = config.kvReplayPort ?? null;
    this.#labelSelector = config.labelSelector?.trim() || undefined;
    this.#poolName = config.poolName?.trim() || undefined;
  }

  /** `selector` or `inferencePool`. */
  get mode(): 'selector' | 'inferencePool' {
    return this.#poolName === undefined ? 'selector' : 'inferencePool';
  }

  /**
   * Lists (the pool, then) the pods and publishes the first endpoint set; watches from then on.
   *
   * @throws {Error} when the first list fails (API unreachable, RBAC, missing CRD) or the pool is
   *   missing or unusable; the message says which and how to fix it.
   */
  async start(): Promise<void> {
    if (this.#started !== undefined) return this.#started.promise;
    if (this.#closed) throw new Error('Kubernetes discovery: start() after close()');
    const started = deferred();
    this.#started = started;
    if (this.#poolName === undefined) {
      this.#active = this.#startPodWatch(this.#labelSelector as string, this.#config.targetPorts ?? []);
    } else {
      this.#startPoolWatch(this.#poolName);
    }
    try {
      await started.promise;
    } catch (error) {
      await this.#stopAll();
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#ready)
      this.#started?.reject(new Error('Kubernetes discovery closed before the first endpoint set'));
    await this.#stopAll();
  }

  #startPoolWatch(poolName: string): void {
    const { namespace } = this;
    const description = `InferencePool ${namespace}/${poolName}`;
    const reflector = new Reflector<ObjectWithMeta>({
      ...this.#tuning(),
      description,
      watch: this.#watch,
      watchPath: `/apis/${INFERENCE_POOL_GROUP}/${INFERENCE_POOL_VERSION}/namespaces/${encodeURIComponent(namespace)}/${INFERENCE_POOL_PLURAL}`,
      fieldSelector: `metadata.name=${poolName}`,
      list: async ({ limit, continueToken }) => {
        // Custom objects come back as raw JSON (`metadata.continue`, not `_continue`).
        const page = (await this.#custom.listNamespacedCustomObject({
          group: INFERENCE_POOL_GROUP,
          version: INFERENCE_POOL_VERSION,
          namespace,
          plural: INFERENCE_POOL_PLURAL,
          fieldSelector: `metadata.name=${poolName}`,
          limit,
          _continue: continueToken,
        })) as { items?: ObjectWithMeta[]; metadata?: { resourceVersion?: string; continue?: string } };
        return {
          items: page.items ?? [],
          resourceVersion: page.metadata?.resourceVersion ?? '',
          continueToken: page.metadata?.continue,
        };
      },
      onChange: (pools) => this.#onPools(poolName, pools),
      onError: (error) => this.#fail(withHint(error, 'inferencepools')),
    });
    this.#poolReflector = reflector;
    reflector.start();
  }

  #onPools(poolName: string, pools: readonly ObjectWithMeta[]): void {
    if (this.#closed) return;
    const pool = pools.find((p) => p.metadata?.name === poolName);
    if (pool === undefined) {
      this.#fail(
        new Error(
          `InferencePool ${this.namespace}/${poolName} not found` +
            (this.#ready ? '; keeping its last pods until it is recreated' : ''),
        ),
      );
      return;
    }
    let membership;
    try {
      membership = parseInferencePool(pool);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    const { labelSelector, targetPorts } = membership;
    if (this.#active?.labelSelector === labelSelector) {
      // Same pods: a port change applies at once, and any switch in progress is abandoned.
      this.#dropPending();
      this.#active.targetPorts = targetPorts;
      this.#recompute();
      return;
    }
    if (this.#pending?.labelSelector === labelSelector) {
      this.#pending.targetPorts = targetPorts;
      return;
    }
    this.#dropPending();
    const watch = this.#startPodWatch(labelSelector, targetPorts);
    if (this.#active === undefined) this.#active = watch;
    else this.#pending = watch;
  }

  #startPodWatch(labelSelector: string, targetPorts: readonly number[]): PodWatch {
    const { namespace } = this;
    const reflector: Reflector<PodObject> = new Reflector<PodObject>({
      ...this.#tuning(),
      description: `pods in namespace ${namespace} matching "${labelSelector}"`,
      watch: this.#watch,
      watchPath: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      labelSelector,
      list: async ({ limit, continueToken }): Promise<ListPage<PodObject>> => {
        const page = await this.#core.listNamespacedPod({
          namespace,
          labelSelector,
          limit,
          _continue: continueToken,
        });
        return {
          items: page.items,
          resourceVersion: page.metadata?.resourceVersion ?? '',
          continueToken: page.metadata?._continue,
        };
      },
      onChange: () => this.#onPods(watch),
      onError: (error) => {
        if (watch === this.#active || watch === this.#pending) this.#fail(withHint(error, 'pods'));
      },
    });
    const watch: PodWatch = { reflector, labelSelector, targetPorts };
    reflector.start();
    return watch;
  }

  #onPods(watch: PodWatch): void {
    if (this.#closed) return;
    if (watch === this.#pending) {
      // The new selector's pods are listed: switch over in one step.
      const previous = this.#active;
      this.#active = watch;
      this.#pending = undefined;
      void previous?.reflector.stop();
    }
    if (watch === this.#active) this.#recompute();
  }

  #recompute(): void {
    const active = this.#active;
    if (active === undefined || !active.reflector.synced || this.#closed) return;
    this.publish(
      endpointsFromPods(active.reflector.objects(), {
        targetPorts: active.targetPorts,
        kvEventsPort: this.#kvEventsPort,
        kvReplayPort: this.#kvReplayPort,
      }),
    );
    if (!this.#ready) {
      this.#ready = true;
      this.#started?.resolve();
    }
  }

  /** Before the first set: fail start(). After: report, keep the current set. */
  #fail(error: Error): void {
    if (this.#closed) return;
    if (!this.#ready) this.#started?.reject(error);
    else this.reportRefreshError(error);
  }

  #dropPending(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    void pending?.reflector.stop();
  }

  async #stopAll(): Promise<void> {
    const reflectors = [this.#poolReflector, this.#active?.reflector, this.#pending?.reflector];
    this.#poolReflector = undefined;
    this.#active = undefined;
    this.#pending = undefined;
    await Promise.all(reflectors.map((reflector) => reflector?.stop()));
  }

  #tuning() {
    const { backoff, watchTimeoutSeconds, stallTimeoutMs, listPageSize } = this.#config;
    return { backoff, watchTimeoutSeconds, stallTimeoutMs, pageSize: listPageSize };
  }
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // start() may have been abandoned by its caller; an unobserved rejection must not crash the process.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** Adds what an operator should check for the errors that have one usual cause. */
function withHint(error: Error, resource: 'pods' | 'inferencepools'): Error {
  const group = resource === 'pods' ? '""' : INFERENCE_POOL_GROUP;
  if (/HTTP 40[13]\b/.test(error.message)) {
    error.message += ` (the router's service account needs get/list/watch on ${resource} in API group ${group}; see k8s/base/role.yaml)`;
  } else if (resource === 'inferencepools' && /HTTP 404\b/.test(error.message)) {
    error.message += ` (is the InferencePool CRD ${INFERENCE_POOL_PLURAL}.${INFERENCE_POOL_GROUP} ${INFERENCE_POOL_VERSION} installed?)`;
  }
  return error;
}

const NAMESPACE_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function validateConfig(config: KubernetesDiscoveryConfig): void {
  const where = 'Kubernetes discovery';
  if (!NAMESPACE_PATTERN.test(config.namespace ?? '')) {
    throw new Error(`${where}: namespace ${JSON.stringify(config.namespace)} is not a valid namespace name`);
  }
  const hasSelector = config.labelSelector !== undefined && config.labelSelector.trim() !== '';
  const hasPool = config.poolName !== undefined && config.poolName.trim() !== '';
  if (hasSelector === hasPool) {
    throw new Error(`${where}: give exactly one of a pod label selector or an InferencePool name`);
  }
  if (hasSelector) {
    const ports = config.targetPorts ?? [];
    if (ports.length < 1 || ports.length > 8) {
      throw new Error(`${where}: selector mode needs 1 to 8 target ports (the pods' serving ports)`);
    }
    for (const port of ports) checkPort(port, 'target port');
    if (new Set(ports).size !== ports.length) throw new Error(`${where}: target ports must be unique`);
  } else if (config.targetPorts !== undefined && config.targetPorts.length > 0) {
    throw new Error(
      `${where}: target ports come from the InferencePool's spec.targetPorts; do not set them too`,
    );
  }
  if (config.kvEventsPort !== undefined) checkPort(config.kvEventsPort, 'KV-event port');
  if (config.kvReplayPort !== undefined) checkPort(config.kvReplayPort, 'KV replay port');
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`Kubernetes discovery: ${what} ${port} is not a port number (1-65535)`);
  }
}
