/**
 * Fixtures for tests against {@link FakeKubeApi}: a real kubeconfig file pointing at it, and Pod /
 * InferencePool objects shaped like the API server's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { KubeObject } from './fake-kube-api.ts';

/** A kubeconfig YAML file (cluster, token user, context with namespace) and the KubeConfig loaded from it. */
export function writeKubeconfig(
  server: string,
  token: string,
  namespace = 'default',
): { path: string; kubeConfig: KubeConfig; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kvedge-kubeconfig-'));
  const path = join(dir, 'config');
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'stand-in',
      // client-node refuses a plain-http server unless TLS verification is explicitly off.
      clusters: [{ name: 'stand-in', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'router', user: { token } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'router', namespace } }],
    }),
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return { path, kubeConfig, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface PodInit {
  readonly name: string;
  readonly namespace?: string;
  readonly ip?: string;
  readonly labels?: Record<string, string>;
  /** Ready condition status; default true. */
  readonly ready?: boolean;
  readonly terminating?: boolean;
}

/** A Running pod as the API server returns it (status written by the kubelet). */
export function pod(init: PodInit): KubeObject {
  const ready = init.ready ?? true;
  return {
    metadata: {
      name: init.name,
      namespace: init.namespace ?? 'default',
      labels: init.labels ?? { app: 'vllm' },
      creationTimestamp: '2025-01-01T00:00:00Z',
      ...(init.terminating
        ? { deletionTimestamp: '2025-01-01T00:10:00Z', deletionGracePeriodSeconds: 30 }
        : {}),
    },
    spec: { containers: [{ name: 'vllm', image: 'vllm/vllm-openai:v0.10.0' }], nodeName: 'node-a' },
    status: {
      phase: init.ip === undefined ? 'Pending' : 'Running',
      ...(init.ip === undefined ? {} : { podIP: init.ip, podIPs: [{ ip: init.ip }] }),
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Initialized', status: 'True' },
        { type: 'ContainersReady', status: ready ? 'True' : 'False' },
        { type: 'Ready', status: ready ? 'True' : 'False' },
      ],
    },
  };
}

/** An `inference.networking.k8s.io/v1` InferencePool. */
export function inferencePool(
  name: string,
  matchLabels: Record<string, string>,
  targetPorts: readonly number[],
  namespace = 'default',
): KubeObject {
  return {
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels },
      targetPorts: targetPorts.map((number) => ({ number })),
      endpointPickerRef: { name: `${name}-epp`, port: { number: 9002 }, failureMode: 'FailClose' },
    },
  };
}
