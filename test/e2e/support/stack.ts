/**
 * End-to-end harness: a real simulated fleet (src/sim/server) behind the real router
 * (`Router.start`), everything on 127.0.0.1 with free ports, plus the clients the e2e tests use
 * (the official openai client, fetch, raw sockets) and readers for the admin endpoints.
 */
import net from 'node:net';
import OpenAI from 'openai';
import { pino } from 'pino';
import type { EdgeConfigInput } from '../../../src/edge/edge-config.ts';
import { StaticDiscovery } from '../../../src/fleet/discovery/static-discovery.ts';
import { Router, type RouterOptions } from '../../../src/routing/router.ts';
import { SimFleet } from '../../../src/sim/server/sim-fleet.ts';
import { SIM_DEFAULTS, fleetOptionsFrom, type SimCliOptions } from '../../../src/sim/server/sim-options.ts';
import type { SimPod } from '../../../src/sim/server/sim-pod.ts';

export const MODEL = SIM_DEFAULTS.model;
export const silentLogger = pino({ level: 'silent' });

/** Start a fleet of simulated pods on free ports (no KV events, no fleet file, no control port). */
export function startFleet(sim: Partial<SimCliOptions> = {}): Promise<SimFleet> {
  return SimFleet.start(
    fleetOptionsFrom({
      ...SIM_DEFAULTS,
      pods: 2,
      port: 0,
      kvPort: null,
      replayPort: null,
      fleetFile: null,
      controlPort: null,
      speed: 20,
      ...sim,
    }),
  );
}

export interface RouterStartOptions extends Partial<Omit<RouterOptions, 'edge'>> {
  readonly edge?: EdgeConfigInput;
}

/** Start the real router over the given pods (static discovery unless `discovery` is given). */
export function startRouter(pods: readonly SimPod[], options: RouterStartOptions = {}): Promise<Router> {
  const { edge, ...rest } = options;
  return Router.start({
    discovery: options.discovery ?? new StaticDiscovery(pods.map((p) => p.address).join(',')),
    schedulerConfig: null,
    adminPort: 0,
    adminHost: '127.0.0.1',
    threads: 1,
    seed: 7,
    scrapeIntervalMs: 50,
    logger: silentLogger,
    ...rest,
    edge: { host: '127.0.0.1', port: 0, ...edge },
  });
}

export interface Stack {
  readonly fleet: SimFleet;
  readonly router: Router;
  readonly pods: readonly SimPod[];
  /** `http://127.0.0.1:<router port>` */
  readonly baseUrl: string;
  /** `http://127.0.0.1:<admin port>` */
  readonly adminUrl: string;
  /** The official OpenAI client pointed at the router (no client-side retries). */
  openai(options?: { timeoutMs?: number }): OpenAI;
  /** The pod with this `host:port` (what the endpoint header names). */
  pod(endpointId: string): SimPod;
  stop(): Promise<void>;
}

export async function startStack(
  sim: Partial<SimCliOptions> = {},
  router: RouterStartOptions = {},
): Promise<Stack> {
  const fleet = await startFleet(sim);
  let started: Router;
  try {
    started = await startRouter(fleet.pods, router);
  } catch (error) {
    await fleet.stop();
    throw error;
  }
  return stackOf(fleet, started);
}

export function stackOf(fleet: SimFleet, router: Router): Stack {
  const baseUrl = `http://127.0.0.1:${router.port}`;
  return {
    fleet,
    router,
    pods: fleet.pods,
    baseUrl,
    adminUrl: `http://127.0.0.1:${router.adminPort}`,
    openai: ({ timeoutMs = 20_000 } = {}) =>
      new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: 'unused', maxRetries: 0, timeout: timeoutMs }),
    pod: (endpointId) => {
      const pod = fleet.pods.find((p) => p.address === endpointId);
      if (!pod) throw new Error(`no pod at ${endpointId}`);
      return pod;
    },
    stop: async () => {
      await router.stop(1_000);
      await fleet.stop();
    },
  };
}

/** What GET /debug/fleet returns (the fields the tests read). */
export interface FleetDebug {
  readonly endpoints: readonly {
    readonly id: string;
    readonly healthy: boolean;
    readonly servedModels: readonly string[];
    readonly metrics: {
      readonly waitingQueueSize: number;
      readonly runningRequestsSize: number;
      readonly kvCacheUsagePercent: number;
    } | null;
    readonly inflight: { readonly requests: number; readonly tokens: number };
  }[];
}

export async function fleetDebug(stack: Stack): Promise<FleetDebug> {
  const response = await fetch(`${stack.adminUrl}/debug/fleet`);
  if (response.status !== 200) throw new Error(`/debug/fleet: ${response.status}`);
  return (await response.json()) as FleetDebug;
}

/** Sum of the samples of `name` in Prometheus text whose labels include `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const sampleLabels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      sampleLabels[pair[1]!] = pair[2]!;
    }
    if (Object.entries(labels).every(([k, v]) => sampleLabels[k] === v)) total += Number(match[3]);
  }
  return total;
}

/** The router's admin /metrics text. */
export async function adminMetrics(stack: Stack): Promise<string> {
  const response = await fetch(`${stack.adminUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics: ${response.status}`);
  return response.text();
}

/** Poll `predicate` until it holds, or fail after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** POST JSON with fetch; returns status, headers and parsed body (or text when not JSON). */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (SSE or empty).
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** A short, valid chat request body. */
export function chatBody(
  content = 'Say hello.',
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { model: MODEL, messages: [{ role: 'user', content }], max_tokens: 8, ...extra };
}

/** A deterministic system prompt of roughly `words` words (~1.3 Llama tokens each). */
export function longSystemPrompt(words: number, seed = 'kvedge'): string {
  const out: string[] = [];
  for (let i = 0; out.length < words; i++) {
    out.push(`${seed}-rule-${i}:`, 'always', 'answer', 'with', 'care', `section-${(i * 7) % 97}.`);
  }
  return out.slice(0, words).join(' ');
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** True when the server closed the connection (as opposed to framing the end). */
  readonly closed: boolean;
}

/**
 * Send raw bytes on a fresh connection and read one response (Content-Length framed or until the
 * server closes). Status 0 means the connection closed without a response.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseRaw(received.toString('latin1')), closed });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response within ${timeoutMs} ms: ${received.toString('latin1').slice(0, 200)}`));
    }, timeoutMs);
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseRaw(received.toString('latin1'));
      const length = Number(parsed.headers['content-length'] ?? NaN);
      if (Number.isFinite(length) && Buffer.byteLength(parsed.body, 'latin1') >= length) finish(false);
    });
    socket.write(request);
  });
}

function parseRaw(text: string): Omit<RawResponse, 'closed'> {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return { status: 0, headers: {}, body: '' };
  const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(headEnd + 4) };
}

/** A POST request (head + body) as raw bytes. */
export function rawPost(
  path: string,
  body: string | Buffer,
  extraHeaders: Record<string, string> = {},
): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  let head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n`;
  for (const [name, value] of Object.entries(extraHeaders)) head += `${name}: ${value}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`), bytes]);
}
