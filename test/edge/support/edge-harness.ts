/** Shared helpers for edge tests: start an edge on 127.0.0.1, clients, raw sockets, metric reads. */
import net from 'node:net';
import OpenAI from 'openai';
import { pino } from 'pino';
import type { EdgeConfigInput } from '../../../src/edge/edge-config.ts';
import { EdgeMetrics } from '../../../src/edge/edge-metrics.ts';
import type { RoutingService, UpstreamEndpoint } from '../../../src/edge/routing-service.ts';
import { EdgeServer } from '../../../src/edge/server.ts';

export const silentLogger = pino({ level: 'silent' });

export interface StartedEdge {
  readonly server: EdgeServer;
  readonly metrics: EdgeMetrics;
  readonly baseUrl: string;
  /** The official OpenAI client pointed at the edge (no client-side retries). */
  openai(apiKey?: string): OpenAI;
}

export async function startEdge(routing: RoutingService, config: EdgeConfigInput = {}): Promise<StartedEdge> {
  const metrics = new EdgeMetrics();
  const server = await EdgeServer.start({
    config: { host: '127.0.0.1', port: 0, ...config },
    routing,
    metrics,
    logger: silentLogger,
  });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  return {
    server,
    metrics,
    baseUrl,
    openai: (apiKey = 'unused') =>
      new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey, maxRetries: 0, timeout: 20_000 }),
  };
}

/** Current value of a counter/gauge sample (0 when absent); labels must match exactly those given. */
export async function metricValue(
  metrics: EdgeMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  let total = 0;
  for (const sample of values) {
    const sampleLabels = sample.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, v]) => String(sampleLabels[k]) === v)) total += sample.value;
  }
  return total;
}

/** An endpoint nobody listens on (connection refused). */
export async function deadEndpoint(): Promise<UpstreamEndpoint> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Everything received, and whether the server closed the connection. */
  readonly raw: string;
}

/**
 * Send `request` bytes on a fresh connection and read one response (Content-Length framed or
 * until the server closes). Status 0 means the connection closed without a response.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponse(received.toString('latin1')));
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no complete response within ${timeoutMs} ms: ${received.toString('latin1').slice(0, 200)}`,
        ),
      );
    }, timeoutMs);
    socket.on('error', () => finish());
    socket.on('close', finish);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseResponse(received.toString('latin1'));
      const length = Number(parsed.headers['content-length'] ?? NaN);
      if (Number.isFinite(length) && Buffer.byteLength(parsed.body, 'latin1') >= length) finish();
    });
    socket.write(request);
  });
}

function parseResponse(text: string): RawResponse {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return { status: 0, headers: {}, body: '', raw: text };
  const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(headEnd + 4), raw: text };
}

/** A POST request head + body as raw bytes. */
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

/** Poll `predicate` until it holds (or fail after `timeoutMs`). */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
