/** The `npm run bench` command line (commander): every option, parsed and checked. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_POLICY_NAMES } from '../policies/catalog.ts';
import { REPLICA_SPREADS, type ReplicaSpread } from '../live/replica-spread.ts';
import { PROFILE_NAMES } from '../../src/sim/engine/timing-profiles.ts';
import { WORKLOADS } from '../workloads/registry.ts';
import type { LoadStage, WorkloadOptions } from '../workloads/types.ts';

export interface BenchOptions {
  readonly mode: 'des' | 'live';
  readonly workloads: readonly string[];
  readonly policies: readonly string[];
  readonly seed: number;
  readonly pods?: number;
  readonly profile?: string;
  readonly blockSize?: number;
  /** Heterogeneous fleet: the odd pods run this many times slower. */
  readonly slowFactor?: number;
  readonly rate?: number;
  readonly ladder?: readonly LoadStage[];
  readonly durationS?: number;
  readonly maxRequests?: number;
  readonly out: string;
  readonly workloadFile?: string;
  readonly traceSpeed?: number;
  readonly scrapeIntervalMs: number;
  readonly kvEventDelayMs: number;
  /** Routing threads, each with its own policy copy (DES copies; live: the router's acceptor threads). */
  readonly routerThreads: number;
  readonly progress: boolean;
  readonly targetUrls: readonly string[];
  readonly startSim: boolean;
  readonly simSpeed: number;
  readonly label?: string;
  /** live + --start-sim: start kvedge's router with this policy in front of the fleet. */
  readonly router?: string;
  /** live + --router: router replicas sharing state through Redis (1 = one router, no Redis). */
  readonly replicas: number;
  /** Redis the replicas share; default: a private redis-server started for the run. */
  readonly redisUrl?: string;
  /** live + --router: placement claims between routing threads and replicas (default on). */
  readonly placementClaims: boolean;
  /** live + --router: run each replica count in turn and write a comparison (`<out>/replicas/`). */
  readonly replicaSweep?: readonly number[];
  /** How the load generator spreads requests over several targets. */
  readonly replicaSpread: ReplicaSpread;
}

/** Workloads `--workload all` runs: every built-in one (the file-based ones need a file). */
export const BUILTIN_WORKLOADS = WORKLOADS.map((w) => w.name).filter(
  (n) => n !== 'inference-perf' && n !== 'mooncake',
);

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected an integer > 0');
  return n;
}

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

/** `3:20,10:20` → stages of (rate req/s, duration s). */
export function parseLadder(value: string): LoadStage[] {
  return value.split(',').map((part) => {
    const [rate, duration] = part.split(':').map(Number);
    if (!(rate! > 0) || !(duration! > 0)) {
      throw new InvalidArgumentError(`ladder step '${part}' must be rate:duration with both > 0`);
    }
    return { rate: rate!, durationS: duration! };
  });
}

/** `1,2,4` → [1, 2, 4]: replica counts, each an integer ≥ 1. */
export function parseReplicaCounts(value: string): number[] {
  const counts = list(value).map(Number);
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InvalidArgumentError(`'${value}' must be replica counts >= 1, e.g. 1,2,4`);
  }
  return counts;
}

/**
 * Replica options only make sense in live mode through kvedge's router; an error message naming
 * the conflict, or null.
 */
export function replicaOptionsProblem(o: BenchOptions): string | null {
  const wantsReplicas = o.replicas > 1 || o.replicaSweep !== undefined || o.redisUrl !== undefined;
  if (!wantsReplicas) return null;
  if (o.mode !== 'live' || !o.startSim || o.router === undefined) {
    return '--replicas, --replica-sweep and --redis-url need --mode live --start-sim --router <policy>';
  }
  if (o.replicaSweep !== undefined && o.replicas > 1) {
    return '--replicas and --replica-sweep are exclusive (the sweep sets the replica count of each run)';
  }
  return null;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function buildProgram(): Command {
  return new Command('bench')
    .description(
      'Compare routing policies on the same fleet and the same seeded workload (discrete-event by default).\n' +
        'Writes <out>/<workload>/results.md, results.json and SVG charts, and <out>/README.md.',
    )
    .addOption(
      new Option('--mode <mode>', 'des: simulated fleet in virtual time; live: HTTP against --target-url')
        .choices(['des', 'live'])
        .default('des'),
    )
    .option(
      '--workload <names>',
      `comma-separated workloads, or "all" (${BUILTIN_WORKLOADS.join(', ')}; file-based: inference-perf, mooncake)`,
      'llm-d-shared-prefix',
    )
    .option(
      '--policies <names>',
      `comma-separated policies (${DEFAULT_POLICY_NAMES.join(', ')})`,
      DEFAULT_POLICY_NAMES.join(','),
    )
    .option('--seed <n>', 'seed of the workload and of the scheduler randomness', integer, 1)
    .option('--pods <n>', "number of pods (default: the workload's)", positiveInt)
    .addOption(
      new Option('--profile <name>', "engine profile (default: the workload's)").choices(PROFILE_NAMES),
    )
    .option('--block-size <n>', 'engine and index block size in tokens', positiveInt)
    .option(
      '--slow-pods <factor>',
      'des: heterogeneous fleet, the odd-indexed pods (half the fleet) run <factor>× slower',
      positiveNumber,
    )
    .option('--rate <req/s>', 'one constant-rate stage instead of the workload default', positiveNumber)
    .option('--ladder <rate:dur,...>', 'explicit load stages, e.g. 3:20,10:20,15:20', parseLadder)
    .option('--duration <s>', 'duration of each ladder stage, or of the single --rate stage', positiveNumber)
    .option('--requests <n>', 'keep only the first N requests', positiveInt)
    .option('--out <dir>', 'results directory', 'bench/results')
    .option(
      '--workload-file <path>',
      'inference-perf shared_prefix YAML (inference-perf) or Mooncake JSONL (mooncake)',
    )
    .option(
      '--trace-speed <x>',
      'Mooncake replay speed: timestamps are divided by it (Dynamo used 0.8)',
      positiveNumber,
    )
    .option('--scrape-interval-ms <ms>', 'des: metrics scrape period', positiveNumber, 50)
    .option('--kv-event-delay-ms <ms>', 'des: KV-event delivery delay', nonNegativeNumber, 5)
    .option(
      '--router-threads <n>',
      "routing threads, each with its own copy of the policy (des: taking requests in turn; live: the router's --threads)",
      positiveInt,
      1,
    )
    .option('--target-url <urls>', 'live: base URL(s) of an OpenAI server; several = client-side round robin')
    .option(
      '--start-sim',
      'live: start a local sim fleet and target its pods directly (the "direct" baseline)',
      false,
    )
    .option('--sim-speed <x>', 'live: speed factor of the started sim fleet', positiveNumber, 1)
    .option('--label <name>', 'live: name of the measured setup in the report', undefined)
    .option(
      '--router <policy>',
      "live (with --start-sim): route through kvedge's router running this policy (e.g. llm-d-precise, kvedge)",
      undefined,
    )
    .option(
      '--replicas <n>',
      'live (with --router): N router replicas sharing state through Redis; requests spread over them',
      positiveInt,
      1,
    )
    .option(
      '--redis-url <url>',
      'live (with --replicas > 1): Redis the replicas share (default: a private redis-server on a free port)',
    )
    .option(
      '--replica-sweep <counts>',
      'live (with --router): run these replica counts in turn (e.g. 1,2,4) and write a comparison to <out>/replicas/',
      parseReplicaCounts,
    )
    .option(
      '--no-placement-claims',
      'live (with --router): the router without placement claims (threads and replicas), for A/B runs',
    )
    .addOption(
      new Option(
        '--replica-spread <how>',
        'live: how requests are spread over several targets: per request (L4 round robin) or per conversation',
      )
        .choices([...REPLICA_SPREADS])
        .default('request'),
    )
    .option('--no-progress', 'no progress line on stderr');
}

/** Parses argv (without node and script) into options. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const program = buildProgram();
  program.parse([...argv], { from: 'user' });
  const o = program.opts<Record<string, unknown>>();
  const workloads = String(o['workload']) === 'all' ? BUILTIN_WORKLOADS : list(String(o['workload']));
  return {
    mode: o['mode'] as 'des' | 'live',
    workloads,
    policies: list(String(o['policies'])),
    seed: o['seed'] as number,
    ...(o['pods'] !== undefined ? { pods: o['pods'] as number } : {}),
    ...(o['profile'] !== undefined ? { profile: o['profile'] as string } : {}),
    ...(o['blockSize'] !== undefined ? { blockSize: o['blockSize'] as number } : {}),
    ...(o['slowPods'] !== undefined ? { slowFactor: o['slowPods'] as number } : {}),
    ...(o['rate'] !== undefined ? { rate: o['rate'] as number } : {}),
    ...(o['ladder'] !== undefined ? { ladder: o['ladder'] as LoadStage[] } : {}),
    ...(o['duration'] !== undefined ? { durationS: o['duration'] as number } : {}),
    ...(o['requests'] !== undefined ? { maxRequests: o['requests'] as number } : {}),
    out: String(o['out']),
    ...(o['workloadFile'] !== undefined ? { workloadFile: o['workloadFile'] as string } : {}),
    ...(o['traceSpeed'] !== undefined ? { traceSpeed: o['traceSpeed'] as number } : {}),
    scrapeIntervalMs: o['scrapeIntervalMs'] as number,
    kvEventDelayMs: o['kvEventDelayMs'] as number,
    routerThreads: o['routerThreads'] as number,
    progress: o['progress'] as boolean,
    targetUrls: o['targetUrl'] === undefined ? [] : list(String(o['targetUrl'])),
    startSim: o['startSim'] as boolean,
    simSpeed: o['simSpeed'] as number,
    ...(o['label'] !== undefined ? { label: o['label'] as string } : {}),
    ...(o['router'] !== undefined ? { router: o['router'] as string } : {}),
    replicas: o['replicas'] as number,
    ...(o['redisUrl'] !== undefined ? { redisUrl: o['redisUrl'] as string } : {}),
    ...(o['replicaSweep'] !== undefined ? { replicaSweep: o['replicaSweep'] as number[] } : {}),
    replicaSpread: o['replicaSpread'] as ReplicaSpread,
    placementClaims: o['placementClaims'] as boolean,
  };
}

/** The workload knobs of the command line. */
export function workloadOptionsFrom(o: BenchOptions): WorkloadOptions {
  return {
    seed: o.seed,
    ...(o.pods !== undefined ? { pods: o.pods } : {}),
    ...(o.profile !== undefined ? { profile: o.profile } : {}),
    ...(o.blockSize !== undefined ? { blockSize: o.blockSize } : {}),
    ...(o.slowFactor !== undefined ? { slowFactor: o.slowFactor } : {}),
    ...(o.rate !== undefined ? { rate: o.rate } : {}),
    ...(o.ladder !== undefined ? { ladder: o.ladder } : {}),
    ...(o.durationS !== undefined ? { durationS: o.durationS } : {}),
    ...(o.maxRequests !== undefined ? { maxRequests: o.maxRequests } : {}),
    ...(o.workloadFile !== undefined ? { file: o.workloadFile } : {}),
    ...(o.traceSpeed !== undefined ? { traceSpeed: o.traceSpeed } : {}),
  };
}
