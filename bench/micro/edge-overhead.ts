/**
 * Edge proxy overhead: latency added by kvedge's edge (p50/p99) and max req/s for short
 * non-streaming requests, against a direct connection to the same upstream in the same run.
 *
 *   npx tsx bench/micro/edge-overhead.ts [--requests 3000] [--duration 5] [--concurrency 32] [--threads 1]
 *
 * Layout (127.0.0.1 only): the upstream (node:http, fixed ~330-byte chat completion) runs in its
 * own worker thread, the edge runs in acceptor thread(s) via AcceptorThreads, and the undici load
 * client runs on the main thread. Latency is measured with one request in flight, alternating
 * direct and proxied blocks so drift hits both equally; throughput with `concurrency` requests in
 * flight for `duration` seconds each. Every run is bounded by request count and duration.
 *
 * This module doubles as the edge threads' routing factory (a single static endpoint).
 */
import { performance } from 'node:perf_hooks';
import { isMainThread, Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { AcceptorThreads, type RoutingFactoryContext } from '../../src/edge/acceptor-threads.ts';
import type { RoutingService, UpstreamEndpoint } from '../../src/edge/routing-service.ts';

/** Routing factory for the edge threads: always the one upstream. */
export function createRoutingService(context: RoutingFactoryContext): RoutingService {
  const endpoint = (context.options as { endpoint: UpstreamEndpoint }).endpoint;
  const decision = { endpoints: [endpoint] };
  const lease = { release: () => undefined };
  return {
    models: () => ['bench-model'],
    ready: () => true,
    decide: async () => decision,
    dispatched: () => lease,
    explain: async () => decision,
    fleetDebug: () => ({ endpoints: [endpoint] }),
  };
}

const UPSTREAM_SOURCE = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
const body = Buffer.from(JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1700000000, model: 'bench-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, total_tokens: 13, completion_tokens: 1, prompt_tokens_details: null },
}));
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => { server.closeAllConnections(); server.close(); parentPort.close(); });
`;

const REQUEST_BODY = JSON.stringify({
  model: 'bench-model',
  messages: [{ role: 'user', content: 'Say ok.' }],
  max_tokens: 1,
});

interface Target {
  readonly name: 'direct' | 'edge';
  readonly pool: Pool;
}

async function once(pool: Pool): Promise<number> {
  const start = performance.now();
  const { statusCode, body } = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: REQUEST_BODY,
  });
  await body.arrayBuffer();
  if (statusCode !== 200) throw new Error(`status ${statusCode}`);
  return performance.now() - start;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** One request at a time, `block` requests per target in alternation, until `requests` each or `durationMs`. */
async function latencies(
  targets: readonly Target[],
  requests: number,
  durationMs: number,
): Promise<Map<string, number[]>> {
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  const deadline = performance.now() + durationMs;
  const block = 100;
  while (performance.now() < deadline && samples.get(targets[0]!.name)!.length < requests) {
    for (const target of targets) {
      const list = samples.get(target.name)!;
      for (let i = 0; i < block; i++) list.push(await once(target.pool));
    }
  }
  return samples;
}

/** `concurrency` loops of back-to-back requests for `durationMs` (at most `maxRequests`); returns req/s. */
async function throughput(
  target: Target,
  concurrency: number,
  durationMs: number,
  maxRequests: number,
): Promise<number> {
  let done = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && done < maxRequests) {
        await once(target.pool);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '3000' },
      duration: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '32' },
      threads: { type: 'string', default: '1' },
    },
  });
  const requests = Number(values.requests);
  const durationMs = Number(values.duration) * 1000;
  const concurrency = Number(values.concurrency);
  const threads = Number(values.threads);

  const upstreamWorker = new Worker(UPSTREAM_SOURCE, { eval: true });
  const upstreamPort = await new Promise<number>((resolve) => upstreamWorker.once('message', resolve));
  const endpoint: UpstreamEndpoint = {
    id: `127.0.0.1:${upstreamPort}`,
    host: '127.0.0.1',
    port: upstreamPort,
  };
  const edge = await AcceptorThreads.start({
    threads,
    config: { host: '127.0.0.1', port: 0, endpointHeader: '' },
    routingModule: import.meta.url,
    routingOptions: { endpoint },
  });
  const poolOptions = { connections: concurrency, keepAliveTimeout: 30_000 };
  const targets: Target[] = [
    { name: 'direct', pool: new Pool(`http://127.0.0.1:${upstreamPort}`, poolOptions) },
    { name: 'edge', pool: new Pool(`http://127.0.0.1:${edge.port}`, poolOptions) },
  ];
  try {
    await latencies(targets, 300, 10_000); // warm-up: JIT, connections
    const samples = await latencies(targets, requests, durationMs * 4);
    const rows: string[] = [];
    const summary: Record<string, unknown> = {};
    const stats = new Map<string, { p50: number; p99: number; n: number }>();
    for (const target of targets) {
      const sorted = [...samples.get(target.name)!].sort((a, b) => a - b);
      stats.set(target.name, { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), n: sorted.length });
    }
    const rps = new Map<string, number>();
    for (const target of targets) {
      rps.set(target.name, await throughput(target, concurrency, durationMs, 200_000));
    }
    for (const target of targets) {
      const s = stats.get(target.name)!;
      rows.push(
        `| ${target.name} | ${s.n} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${rps.get(target.name)!.toFixed(0)} |`,
      );
      summary[target.name] = { ...s, rps: rps.get(target.name) };
    }
    const direct = stats.get('direct')!;
    const viaEdge = stats.get('edge')!;
    console.log(
      `edge overhead, ${threads} edge thread(s), ${concurrency} concurrent for req/s, node ${process.version}`,
    );
    console.log('| path | requests | p50 ms | p99 ms | max req/s |');
    console.log('|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log(
      `added latency: p50 +${(viaEdge.p50 - direct.p50).toFixed(3)} ms, p99 +${(viaEdge.p99 - direct.p99).toFixed(3)} ms; ` +
        `edge req/s = ${((rps.get('edge')! / rps.get('direct')!) * 100).toFixed(0)}% of direct`,
    );
    console.log(JSON.stringify(summary));
  } finally {
    await Promise.all(targets.map((t) => t.pool.close()));
    await edge.stop(1_000);
    upstreamWorker.postMessage('stop');
  }
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
