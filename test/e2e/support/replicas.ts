/**
 * Helpers for end-to-end tests of router replicas sharing state through Redis: requests and admin
 * reads addressed to one replica, client traffic that tallies what clients see, long-running
 * streams that hold a request in flight, a simulated fleet publishing KV events, and a router
 * in a child process (`kvedge serve`) that a test can kill -9.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Router } from '../../../src/routing/router.ts';
import type { SimFleet } from '../../../src/sim/server/sim-fleet.ts';
import type { SimCliOptions } from '../../../src/sim/server/sim-options.ts';
import { freePortRange } from '../../support/free-port.ts';
import { MODEL, metricSum, postJson, sleep, startFleet } from './stack.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** A router replica as the tests address it: in this process or a child process. */
export interface ReplicaAddress {
  readonly port: number;
  readonly adminPort: number | null;
}

export const chatUrl = (r: ReplicaAddress): string => `http://127.0.0.1:${r.port}/v1/chat/completions`;

/**
 * llm-d's `active-request-scorer` alone: routes on router-counted in-flight requests, the load
 * signal replicas share through Redis (scraped queue depths are the same for every replica).
 */
export const ACTIVE_REQUEST_CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: active-request-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: active-request-scorer, weight: 1}
  - {pluginRef: max-score-picker}
`;

/** A chat request with a system prompt (the shared prefix) and a question. */
export function chat(system: string, question: string, maxTokens = 4): Record<string, unknown> {
  return {
    model: MODEL,
    messages: [
      { role: 'system', content: system },
      { role: 'user', content: question },
    ],
    max_tokens: maxTokens,
  };
}

/** What POST /debug/route answers (the fields these tests read). */
export interface RouteExplanation {
  readonly endpointId: string;
  readonly prefixPath: 'precise' | 'approximate';
  readonly trace: {
    readonly producers: readonly {
      readonly producer: string;
      readonly summary: { readonly totalBlocks?: number; readonly matchedBlocks?: Record<string, number> };
    }[];
  };
}

export async function explainRoute(r: ReplicaAddress, body: unknown): Promise<RouteExplanation> {
  const response = await postJson(`http://127.0.0.1:${r.adminPort}/debug/route`, body);
  if (response.status !== 200) throw new Error(`/debug/route: ${response.status} ${response.text}`);
  return response.body as RouteExplanation;
}

/**
 * The prefix the replica's index (precise) or routing history (approximate) holds for `body`:
 * matched blocks per endpoint and the prompt's block count, as the decision trace reports them.
 */
export async function prefixMatch(
  r: ReplicaAddress,
  body: unknown,
): Promise<{ endpointId: string; path: string; total: number; matched: Record<string, number> }> {
  const explained = await explainRoute(r, body);
  const producer = explained.trace.producers.find((p) => p.summary.totalBlocks !== undefined);
  return {
    endpointId: explained.endpointId,
    path: explained.prefixPath,
    total: producer?.summary.totalBlocks ?? 0,
    matched: producer?.summary.matchedBlocks ?? {},
  };
}

export async function replicaMetrics(r: ReplicaAddress): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${r.adminPort}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics: ${response.status}`);
  return response.text();
}

/** One replica metric, summed over the samples matching `labels`. */
export async function replicaMetric(
  r: ReplicaAddress,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return metricSum(await replicaMetrics(r), name, labels);
}

/**
 * The per-endpoint in-flight requests a replica routes on: its own (counted at dispatch) plus
 * what it last heard from the other replicas through Redis.
 */
export async function loadView(r: ReplicaAddress, endpoints: readonly string[]): Promise<number[]> {
  const text = await replicaMetrics(r);
  return endpoints.map(
    (endpoint) =>
      metricSum(text, 'kvedge_endpoint_inflight_requests', { endpoint }) +
      metricSum(text, 'kvedge_endpoint_peer_inflight_requests', { endpoint }),
  );
}

/** Requests each pod's engine is working on (running or waiting), in fleet order. */
export function engineLoad(fleet: SimFleet): number[] {
  return fleet.pods.map((p) => p.engineStats.running + p.engineStats.waiting);
}

/** Largest minus smallest. */
export const spread = (counts: readonly number[]): number => Math.max(...counts) - Math.min(...counts);

export interface TrafficResult {
  readonly requests: number;
  /** Anything but a 200 with a body, including connection failures. */
  readonly errors: number;
  readonly failures: readonly string[];
}

/**
 * Client traffic through `targets` in turn, one request at a time per lane, until stopped:
 * records every outcome a client would see.
 */
export function startTraffic(
  targets: readonly ReplicaAddress[],
  body: (i: number) => unknown,
  options: { lanes?: number; pauseMs?: number } = {},
): { stop(): Promise<TrafficResult> } {
  let stopped = false;
  let requests = 0;
  const failures: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const i = next++;
      const target = targets[i % targets.length]!;
      requests++;
      try {
        const response = await postJson(chatUrl(target), body(i));
        if (response.status !== 200) failures.push(`${response.status} ${response.text.slice(0, 200)}`);
      } catch (error) {
        failures.push(String(error));
      }
      await sleep(options.pauseMs ?? 10);
    }
  };
  const lanes = Array.from({ length: options.lanes ?? 2 }, lane);
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(lanes);
      return { requests, errors: failures.length, failures };
    },
  };
}

/** A streaming request held open: the pod that serves it, and its outcome once it ends. */
export interface OpenStream {
  readonly endpoint: string;
  /** Resolves when the stream ends: ok = a 200 whose body arrived complete. */
  readonly done: Promise<{ ok: boolean }>;
  cancel(): void;
}

/**
 * Sends a streaming chat request and resolves once the response head arrived (the request is
 * dispatched and counted in flight); the body keeps streaming until it ends or is cancelled.
 */
export async function openStream(
  r: ReplicaAddress,
  content: string,
  maxTokens: number,
  system?: string,
): Promise<OpenStream> {
  const abort = new AbortController();
  const messages = [
    ...(system === undefined ? [] : [{ role: 'system', content: system }]),
    { role: 'user', content },
  ];
  const response = await fetch(chatUrl(r), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages, max_tokens: maxTokens, stream: true }),
    signal: abort.signal,
  });
  if (response.status !== 200) throw new Error(`stream: ${response.status} ${await response.text()}`);
  const done = response.text().then(
    (text) => ({ ok: text.trimEnd().endsWith('data: [DONE]') }),
    () => ({ ok: false }),
  );
  return { endpoint: response.headers.get('x-kvedge-endpoint') ?? '', done, cancel: () => abort.abort() };
}

/** A simulated fleet whose pods publish KV events over ZeroMQ, on free ports. */
export async function startKvEventFleet(sim: Partial<SimCliOptions> = {}): Promise<SimFleet> {
  const pods = sim.pods ?? 2;
  return startFleet({ ...sim, pods, kvPort: await freePortRange(pods) });
}

/** The fleet as `--endpoints` spells it (`HOST:PORT[@KV_PORT]`). */
export function endpointSpec(fleet: SimFleet): string {
  return fleet
    .endpoints()
    .map((e) => `${e.address}${e.kvEvents ? `@${e.kvEvents.split(':').at(-1)}` : ''}`)
    .join(',');
}

/** Stops routers side by side, ignoring those never started. */
export async function stopAll(routers: readonly (Router | undefined)[]): Promise<void> {
  await Promise.all(routers.map((r) => r?.stop(0)));
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * `kvedge serve` in a child process, from the sources: a replica that can really crash (kill -9:
 * no shutdown code runs, its sockets to Redis and to the pods just drop).
 */
export class RouterProcess implements ReplicaAddress {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly adminPort: number,
  ) {}

  /** Starts `kvedge serve <args>` on free ports and waits until it routes. */
  static async start(args: readonly string[], timeoutMs = 20_000): Promise<RouterProcess> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/kvedge.ts',
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--admin-port',
        '0',
        '--threads',
        '1',
        '--log-level',
        'silent',
        ...args,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(child);
    child.once('exit', () => children.delete(child));
    let output = '';
    const ports = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`kvedge serve did not start within ${timeoutMs} ms: ${output}`));
      }, timeoutMs);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        const match = /routing on http:\/\/[^:]+:(\d+) \(admin :(\d+)/.exec(output);
        if (!match) return;
        clearTimeout(timer);
        resolve({ port: Number(match[1]), adminPort: Number(match[2]) });
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`kvedge serve exited with ${code}: ${output}`));
      });
    });
    // Keep draining the pipes so the child never blocks on a full one.
    child.stdout!.resume();
    child.stderr!.resume();
    return new RouterProcess(child, ports.port, ports.adminPort);
  }

  /** kill -9, resolved once the process is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}
