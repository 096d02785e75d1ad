/**
 * DES-vs-live agreement check: runs one small workload twice on the same fleet shape, once in
 * the discrete-event simulator with round robin and once live against a locally started sim fleet
 * with client-side round robin (the same assignment), and compares what both measured. Agreement
 * means the DES driver's clock, scrape and accounting model what a client of the real servers sees.
 *
 *   npx tsx bench/agreement.ts [--workload sglang-gsp] [--requests 48] [--rate 6] [--pods 2]
 *                              [--seed 1] [--tolerance 0.25]
 *
 * Exits 1 when a figure differs by more than the tolerance (relative, with a 20 ms floor for
 * latencies). Live runs in real time (speed 1), so keep the workload small.
 */
import { Command } from 'commander';
import { runDes } from './des/driver.ts';
import { runLive } from './live/live-driver.ts';
import { startSimFleet } from './live/sim-fleet-launcher.ts';
import { policyByName } from './policies/catalog.ts';
import { fixed, percent, seconds } from './report/format.ts';
import { computeMetrics, type PolicyMetrics } from './report/policy-metrics.ts';
import { engineConfigForFleet } from './workloads/fleet-shape.ts';
import { workloadByName } from './workloads/registry.ts';

/** Latency differences below this are agreement whatever the ratio (HTTP, event-loop noise). */
const LATENCY_FLOOR_S = 0.02;

interface Check {
  readonly name: string;
  readonly des: number;
  readonly live: number;
  readonly format: (v: number) => string;
  /** Absolute difference that always passes. */
  readonly floor: number;
}

function checks(des: PolicyMetrics, live: PolicyMetrics): Check[] {
  return [
    { name: 'TTFT p50', des: des.ttftS.p50, live: live.ttftS.p50, format: seconds, floor: LATENCY_FLOOR_S },
    { name: 'TTFT p90', des: des.ttftS.p90, live: live.ttftS.p90, format: seconds, floor: LATENCY_FLOOR_S },
    { name: 'E2E p50', des: des.e2eS.p50, live: live.e2eS.p50, format: seconds, floor: LATENCY_FLOOR_S },
    { name: 'ITL p50 (ms)', des: des.itlMs.p50, live: live.itlMs.p50, format: (v) => fixed(v, 1), floor: 5 },
    { name: 'hit rate', des: des.hitRate, live: live.hitRate, format: percent, floor: 0.02 },
  ];
}

async function main(): Promise<void> {
  const o = new Command('agreement')
    .option('--workload <name>', 'workload', 'sglang-gsp')
    .option('--requests <n>', 'requests', Number, 48)
    .option('--rate <req/s>', 'Poisson rate', Number, 6)
    .option('--pods <n>', 'pods', Number, 2)
    .option('--seed <n>', 'seed', Number, 1)
    .option('--tolerance <x>', 'relative tolerance', Number, 0.25)
    .parse()
    .opts<{
      workload: string;
      requests: number;
      rate: number;
      pods: number;
      seed: number;
      tolerance: number;
    }>();
  const workload = workloadByName(o.workload).build({
    seed: o.seed,
    pods: o.pods,
    rate: o.rate,
    maxRequests: o.requests,
  });
  const engine = engineConfigForFleet(workload.fleet);
  const desRun = runDes({ workload, engine, policy: policyByName('round-robin'), seed: o.seed });
  const des = computeMetrics(desRun, workload.stages);

  const fleet = await startSimFleet(workload.fleet, { speed: 1 });
  let live: PolicyMetrics;
  try {
    const liveRun = await runLive({ workload, targets: fleet.urls, model: fleet.model, label: 'live' });
    live = computeMetrics(liveRun, workload.stages);
  } finally {
    await fleet.stop();
  }

  let failures = 0;
  const rows = checks(des, live).map((c) => {
    const diff = Math.abs(c.des - c.live);
    const rel = diff / Math.max(Math.abs(c.des), 1e-12);
    const ok = diff <= c.floor || rel <= o.tolerance;
    if (!ok) failures++;
    return `| ${c.name} | ${c.format(c.des)} | ${c.format(c.live)} | ${(rel * 100).toFixed(1)}% | ${ok ? 'ok' : 'DIFFERS'} |`;
  });
  process.stdout.write(
    [
      `DES vs live, ${workload.name}: ${workload.requests.length} requests at ${o.rate} req/s on ${workload.fleet.pods} × ${workload.fleet.profile}, round robin`,
      '',
      '| figure | DES | live | difference | verdict |',
      '|---|---:|---:|---:|---|',
      ...rows,
      '',
      `errors: DES ${des.errors}, live ${live.errors}`,
      '',
    ].join('\n'),
  );
  if (failures > 0 || live.errors > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `agreement failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
