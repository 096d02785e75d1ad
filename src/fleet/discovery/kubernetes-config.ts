/**
 * How the router finds and authenticates to the Kubernetes API, and which namespace it watches.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/** Mounted into every pod whose service-account token is automounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeConfigOptions {
  /** A kubeconfig file to use instead of the defaults. */
  readonly kubeconfigPath?: string;
  /** Context to select in the kubeconfig (default: its current-context). */
  readonly context?: string;
  /** Environment to consult; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Prefixed to the service-account paths; for tests. Default ''. */
  readonly pathPrefix?: string;
}

/** True when this process runs in a pod with API credentials mounted. */
export function isInCluster(options: Pick<LoadKubeConfigOptions, 'env' | 'pathPrefix'> = {}): boolean {
  const env = options.env ?? process.env;
  return (
    Boolean(env.KUBERNETES_SERVICE_HOST) &&
    Boolean(env.KUBERNETES_SERVICE_PORT) &&
    existsSync(`${options.pathPrefix ?? ''}${SERVICE_ACCOUNT_DIR}/token`)
  );
}

/**
 * A KubeConfig for the API server:
 * 1. `kubeconfigPath` when given;
 * 2. in a pod (service host in the environment and a mounted token): the in-cluster config, i.e.
 *    the service-account token (re-read as the kubelet rotates it) and the cluster CA;
 * 3. otherwise `$KUBECONFIG` (a path list, merged as kubectl does) or `~/.kube/config`.
 *
 * In-cluster wins over a stray `$KUBECONFIG` on purpose: inside a pod the service account is the
 * identity the RBAC manifests grant.
 *
 * @throws {Error} when no configuration is found or the chosen one has no current cluster.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const env = options.env ?? process.env;
  let source: string;
  if (options.kubeconfigPath !== undefined) {
    kc.loadFromFile(options.kubeconfigPath);
    source = options.kubeconfigPath;
  } else if (isInCluster(options)) {
    withEnv(env, () => kc.loadFromCluster(options.pathPrefix ?? ''));
    source = 'in-cluster service account';
  } else if (env.KUBECONFIG) {
    // client-node merges a path list the way kubectl does.
    withEnv(env, () => kc.loadFromDefault());
    source = `$KUBECONFIG (${env.KUBECONFIG})`;
  } else if (env.HOME && existsSync(join(env.HOME, '.kube', 'config'))) {
    source = join(env.HOME, '.kube', 'config');
    kc.loadFromFile(source);
  } else {
    // client-node would silently fall back to http://localhost:8080; say what is missing instead.
    throw new Error(
      'Kubernetes discovery: not running in a pod (no KUBERNETES_SERVICE_HOST or service-account token) ' +
        'and no kubeconfig ($KUBECONFIG unset, ~/.kube/config missing)',
    );
  }
  if (options.context !== undefined) kc.setCurrentContext(options.context);
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      `Kubernetes discovery: no cluster configured (looked at ${source}); run in a pod with a service account, ` +
        'set $KUBECONFIG, or pass a kubeconfig path',
    );
  }
  return kc;
}

/**
 * The namespace to watch when none is configured: `$POD_NAMESPACE` (downward API), then the
 * service account's namespace, then the kubeconfig context's, then `default` (llm-d falls back the
 * same way for `--pool-namespace`).
 */
export function defaultNamespace(
  kc?: KubeConfig,
  options: Pick<LoadKubeConfigOptions, 'env' | 'pathPrefix'> = {},
): string {
  const env = options.env ?? process.env;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  const file = `${options.pathPrefix ?? ''}${SERVICE_ACCOUNT_DIR}/namespace`;
  if (existsSync(file)) {
    const namespace = readFileSync(file, 'utf8').trim();
    if (namespace !== '') return namespace;
  }
  const contextName = kc?.getCurrentContext();
  const context = contextName === undefined ? null : kc?.getContextObject(contextName);
  return context?.namespace || 'default';
}

/** client-node reads `process.env` directly; let callers pass another environment. */
function withEnv(env: NodeJS.ProcessEnv, fn: () => void): void {
  if (env === process.env) {
    fn();
    return;
  }
  const keys = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBECONFIG'] as const;
  const saved = keys.map((key) => [key, process.env[key]] as const);
  try {
    for (const key of keys) {
      if (env[key] === undefined) delete process.env[key];
      else process.env[key] = env[key];
    }
    fn();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
