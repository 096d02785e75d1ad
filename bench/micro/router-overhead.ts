/**
 * Router overhead: p50/p99 latency and max req/s of short non-streaming completions sent directly
 * to the simulated pods and through the real router (`Router.start`, default scheduler config)
 * with 1 and with 2 acceptor threads, measured in the same run against the same pods.
 *
 *   npx tsx bench/micro/router-overhead.ts [--requests 1500] [--duration 5] [--concurrency 32]
 *                                          [--pods 2] [--speed 100] [--max-tokens 2]
 *
 * Layout (127.0.0.1 only), one OS process per role so no two share an event loop:
 * - the sim fleet (`--role sim`): N pods, llama-3.1-8b-h100 profile at `speed`x, real tokenizer;
 * - one router process per thread count (`--role router`), each with its own registry scraping
 *   the same pods every 50 ms;
 * - this process: the undici load client.
 * "direct" spreads requests round-robin over the pods itself, so it has the same pod capacity as
 * the routed paths. Latency: one request in flight, targets alternated in blocks so drift hits all
 * equally. Throughput: `concurrency` requests in flight for `duration` seconds per target, in two
 * half-length rounds (second in reverse order). Every phase is bounded by a request count and a
 * duration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Pool } from 'undici';

const { values: args } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    requests: { type: 'string', default: '1500' },
    duration: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
    pods: { type: 'string', default: '2' },
    speed: { type: 'string', default: '100' },
    'max-tokens': { type: 'string', default: '2' },
    endpoints: { type: 'string', default: '' },
    threads: { type: 'string', default: '1' },
  },
});

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

/** Child roles report readiness as one JSON line on stdout and stop when stdin closes. */
function announce(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function stopOnStdinEnd(stop: () => Promise<void>): void {
  process.stdin.resume();
  process.stdin.once('end', () => {
    void stop().finally(() => process.exit(0));
  });
}

async function runSim(): Promise<void> {
  const { SimFleet } = await import('../../src/sim/server/sim-fleet.ts');
  const { SIM_DEFAULTS, fleetOptionsFrom } = await import('../../src/sim/server/sim-options.ts');
  const fleet = await SimFleet.start(
    fleetOptionsFrom({
      ...SIM_DEFAULTS,
      pods: Number(args.pods),
      port: 0,
      kvPort: null,
      replayPort: null,
      fleetFile: null,
      controlPort: null,
      speed: Number(args.speed),
    }),
  );
  announce({ addresses: fleet.pods.map((p) => p.address) });
  stopOnStdinEnd(() => fleet.stop());
}

async function runRouter(): Promise<void> {
  const { Router } = await import('../../src/routing/router.ts');
  const { StaticDiscovery } = await import('../../src/fleet/discovery/static-discovery.ts');
  const router = await Router.start({
    discovery: new StaticDiscovery(args.endpoints),
    schedulerConfig: null,
    edge: { host: '127.0.0.1', port: 0 },
    adminPort: null,
    threads: Number(args.threads),
    seed: 1,
    logger: pino({ level: 'warn' }),
  });
  announce({ port: router.port });
  stopOnStdinEnd(() => router.stop(1_000));
}

interface Child {
  readonly process: ChildProcess;
  readonly ready: Record<string, unknown>;
}

async function startChild(roleArgs: readonly string[]): Promise<Child> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...roleArgs], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const [line] = (await Promise.race([
      once(lines, 'line'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`${roleArgs.join(' ')} exited with ${String(code)} before it was ready`);
      }),
    ])) as [string];
    return { process: child, ready: JSON.parse(line) as Record<string, unknown> };
  } finally {
    clearTimeout(timeout);
  }
}

async function stopChild(child: Child): Promise<void> {
  const exited = once(child.process, 'exit');
  child.process.stdin!.end();
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

interface Target {
  readonly name: string;
  readonly pools: readonly Pool[];
  next: number;
}

const BODY = JSON.stringify({ model: MODEL, prompt: 'Say ok.', max_tokens: Number(args['max-tokens']) });

async function once1(target: Target): Promise<number> {
  const pool = target.pools[target.next++ % target.pools.length]!;
  const start = performance.now();
  const { statusCode, body } = await pool.request({
    path: '/v1/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
  });
  await body.arrayBuffer();
  if (statusCode !== 200) throw new Error(`${target.name}: status ${statusCode}`);
  return performance.now() - start;
}

/** One request at a time, `block` per target in turn, until `requests` each or `durationMs`. */
async function latencies(
  targets: readonly Target[],
  requests: number,
  durationMs: number,
): Promise<Map<string, number[]>> {
  const samples = new Map(targets.map((t) => [t.name, [] as number[]]));
  const deadline = performance.now() + durationMs;
  const block = 50;
  while (performance.now() < deadline && samples.get(targets[0]!.name)!.length < requests) {
    for (const target of targets) {
      const list = samples.get(target.name)!;
      for (let i = 0; i < block; i++) list.push(await once1(target));
    }
  }
  return samples;
}

/** `concurrency` loops of back-to-back requests for `durationMs` (at most `maxRequests`); req/s. */
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
        await once1(target);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Nearest-rank quantile of an ascending sample. */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function main(): Promise<void> {
  const requests = Number(args.requests);
  const durationMs = Number(args.duration) * 1000;
  const concurrency = Number(args.concurrency);
  const children: Child[] = [];
  const pools: Pool[] = [];
  const pool = (url: string): Pool => {
    const p = new Pool(url, { connections: concurrency, keepAliveTimeout: 30_000, pipelining: 1 });
    pools.push(p);
    return p;
  };
  try {
    const sim = await startChild(['--role', 'sim', '--pods', args.pods, '--speed', args.speed]);
    children.push(sim);
    const addresses = sim.ready['addresses'] as string[];
    const routers: { threads: number; port: number }[] = [];
    for (const threads of [1, 2]) {
      const router = await startChild([
        '--role',
        'router',
        '--threads',
        String(threads),
        '--endpoints',
        addresses.join(','),
      ]);
      children.push(router);
      routers.push({ threads, port: router.ready['port'] as number });
    }
    const targets: Target[] = [
      {
        name: `direct (${addresses.length} pods, client round-robin)`,
        pools: addresses.map((a) => pool(`http://${a}`)),
        next: 0,
      },
      ...routers.map((r) => ({
        name: `router, ${r.threads} thread${r.threads > 1 ? 's' : ''}`,
        pools: [pool(`http://127.0.0.1:${r.port}`)],
        next: 0,
      })),
    ];

    await latencies(targets, 200, 15_000); // warm-up: JIT, connections, tokenizer caches
    const samples = await latencies(targets, requests, Math.max(durationMs * 6, 30_000));
    // Throughput in two rounds, the second in reverse order, so load drift on a shared machine
    // does not favour whichever target happens to run first; each target's result is the mean.
    const rps = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    for (const target of targets) await throughput(target, concurrency, 1_000, 20_000); // warm-up at load
    for (const round of [targets, [...targets].reverse()]) {
      for (const target of round) {
        rps.get(target.name)!.push(await throughput(target, concurrency, durationMs / 2, 100_000));
      }
    }
    const stats = targets.map((t) => {
      const sorted = [...samples.get(t.name)!].sort((a, b) => a - b);
      return {
        name: t.name,
        n: sorted.length,
        p50: quantile(sorted, 0.5),
        p99: quantile(sorted, 0.99),
        rps: mean(rps.get(t.name)!),
      };
    });
    const direct = stats[0]!;
    console.log(
      `router overhead: short completions (prompt "Say ok.", max_tokens ${args['max-tokens']}), ` +
        `${addresses.length} sim pods at ${args.speed}x, ${concurrency} concurrent for req/s, ` +
        `node ${process.version}, ${(await import('node:os')).availableParallelism()} CPUs`,
    );
    console.log('');
    console.log(
      '| path | requests | p50 ms | p99 ms | added p50 ms | added p99 ms | max req/s | req/s vs direct |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const s of stats) {
      const added = (v: number) => (s === direct ? '—' : `+${v.toFixed(3)}`);
      console.log(
        `| ${s.name} | ${s.n} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${added(s.p50 - direct.p50)} | ` +
          `${added(s.p99 - direct.p99)} | ${s.rps.toFixed(0)} | ${((s.rps / direct.rps) * 100).toFixed(0)}% |`,
      );
    }
    console.log('');
    console.log(JSON.stringify({ stats }));
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    for (const child of children.reverse()) await stopChild(child);
  }
}

const roles: Record<string, () => Promise<void>> = { main, sim: runSim, router: runRouter };
const role = roles[args.role];
if (!role) {
  console.error(`unknown --role ${args.role}`);
  process.exitCode = 2;
} else {
  role().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
    if (args.role !== 'main') process.exit(1);
  });
}
