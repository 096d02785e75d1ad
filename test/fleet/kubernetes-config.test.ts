import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  defaultNamespace,
  isInCluster,
  loadKubeConfig,
  SERVICE_ACCOUNT_DIR,
} from '../../src/fleet/discovery/kubernetes-config.ts';
import { writeKubeconfig } from '../k8s/support/kube-fixtures.ts';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kvedge-sa-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A service-account mount under `root`, as the kubelet projects it. */
function mountServiceAccount(namespace: string): void {
  const dir = join(root, SERVICE_ACCOUNT_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), 'sa-token');
  writeFileSync(join(dir, 'ca.crt'), 'not a real CA');
  writeFileSync(join(dir, 'namespace'), `${namespace}\n`);
}

const IN_POD_ENV = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

describe('loadKubeConfig', () => {
  it('uses the service account inside a pod, even with $KUBECONFIG set', () => {
    mountServiceAccount('serving');
    const kc = loadKubeConfig({ env: { ...IN_POD_ENV, KUBECONFIG: '/nonexistent' }, pathPrefix: root });
    expect(kc.getCurrentCluster()?.server).toBe('https://10.96.0.1:443');
    expect(kc.getCurrentUser()?.authProvider?.config.tokenFile).toBe(
      join(root, SERVICE_ACCOUNT_DIR, 'token'),
    );
    expect(defaultNamespace(kc, { env: {}, pathPrefix: root })).toBe('serving');
    expect(defaultNamespace(kc, { env: { POD_NAMESPACE: 'from-downward-api' }, pathPrefix: root })).toBe(
      'from-downward-api',
    );
  });

  it('brackets an IPv6 service host', () => {
    mountServiceAccount('serving');
    const kc = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      pathPrefix: root,
    });
    expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
  });

  it('outside a pod, reads $KUBECONFIG and takes the namespace from its context', () => {
    const file = writeKubeconfig('https://api.example.test:6443', 't', 'team-a');
    try {
      expect(isInCluster({ env: { ...IN_POD_ENV }, pathPrefix: root })).toBe(false); // no token mounted
      const kc = loadKubeConfig({ env: { ...IN_POD_ENV, KUBECONFIG: file.path }, pathPrefix: root });
      expect(kc.getCurrentCluster()?.server).toBe('https://api.example.test:6443');
      expect(defaultNamespace(kc, { env: {}, pathPrefix: root })).toBe('team-a');
      expect(loadKubeConfig({ kubeconfigPath: file.path }).getCurrentCluster()?.server).toBe(
        'https://api.example.test:6443',
      );
    } finally {
      file.cleanup();
    }
  });

  it('fails with a clear message when there is nothing to connect to', () => {
    expect(() => loadKubeConfig({ env: { HOME: root }, pathPrefix: root })).toThrow(
      'Kubernetes discovery: not running in a pod (no KUBERNETES_SERVICE_HOST or service-account token) and no kubeconfig',
    );
    expect(defaultNamespace(undefined, { env: {}, pathPrefix: root })).toBe('default');
  });

  it('leaves process.env as it was', () => {
    mountServiceAccount('serving');
    const before = { ...process.env };
    loadKubeConfig({ env: IN_POD_ENV, pathPrefix: root });
    expect(process.env).toEqual(before);
  });
});
