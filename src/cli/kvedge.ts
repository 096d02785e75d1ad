#!/usr/bin/env node
/**
 * `kvedge serve`: the router. With no endpoints, fleet file or discovery it starts a local
 * simulated fleet and routes to it, so `npm start` works on a fresh machine.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import type { Discovery } from '../fleet/discovery/discovery.ts';
import { DnsDiscovery } from '../fleet/discovery/dns-discovery.ts';
import { FileDiscovery } from '../fleet/discovery/file-discovery.ts';
import { KubernetesDiscovery } from '../fleet/discovery/kubernetes-discovery.ts';
import { StaticDiscovery } from '../fleet/discovery/static-discovery.ts';
import type { ClusterStateConfigInput } from '../cluster/config.ts';
import { Router } from '../routing/router.ts';
import { parseInferenceObjectives } from '../scheduler/admission/inference-objectives.ts';
import { namedConfigs } from '../scheduler/config/defaults.ts';
import { loadSchedulerConfig } from '../scheduler/config/loader.ts';
import { SchedulerConfigError } from '../scheduler/config/config-error.ts';
import { SimFleet } from '../sim/server/sim-fleet.ts';
import { SIM_DEFAULTS, fleetOptionsFrom } from '../sim/server/sim-options.ts';
import { resolveIndexBlockSize } from '../routing/index-block-size.ts';

const int =
  (name: string, min = 0) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };

interface ServeOptions {
  config?: string;
  policy?: string;
  endpoints?: string;
  fleetFile?: string;
  discovery?: 'static' | 'file' | 'dns' | 'kubernetes';
  dnsName?: string;
  dnsRecord: 'a' | 'srv';
  dnsPort?: number;
  k8sNamespace?: string;
  k8sSelector?: string;
  k8sPool?: string;
  k8sTargetPort?: number;
  kvEventsPort: number;
  host: string;
  port: number;
  adminPort: number;
  threads: number;
  apiKey: string[];
  maxBodyBytes: number;
  scrapeIntervalMs: number;
  seed?: number;
  logLevel: string;
  simPods: number;
  simPort: number;
  tokenizer: string[];
  indexBlockSize?: number;
  indexCapacity: number;
  tokenizerThreads: number;
  objectives?: string;
  redisUrl?: string;
  redisSentinels?: string;
  redisSentinelMaster: string;
  redisPrefix: string;
  placementClaims: boolean;
}

const program = new Command().name('kvedge').description('Cache-aware router for vLLM inference fleets.');

program
  .command('serve', { isDefault: true })
  .description('Run the router (with no endpoints given, also a local simulated fleet).')
  .option('--config <file>', 'llm-d EndpointPickerConfig YAML (scheduler plugins, profiles, weights)')
  .addOption(
    new Option('--policy <name>', 'a built-in scheduler config instead of --config').choices(
      Object.keys(namedConfigs),
    ),
  )
  .option('--endpoints <list>', 'static endpoints HOST:PORT[@KV_PORT[/REPLAY_PORT]],...')
  .option('--fleet-file <file>', 'YAML/JSON fleet file, watched for changes')
  .addOption(
    new Option('--discovery <kind>', 'endpoint discovery (default: from the flags given)').choices([
      'static',
      'file',
      'dns',
      'kubernetes',
    ]),
  )
  .option('--dns-name <name>', 'DNS name of a headless service (dns discovery)')
  .addOption(new Option('--dns-record <type>', 'DNS record type').choices(['a', 'srv']).default('a'))
  .option('--dns-port <port>', 'serving port for A records', int('--dns-port', 1))
  .option('--k8s-namespace <ns>', 'namespace (kubernetes discovery; default: the pod namespace)')
  .option('--k8s-selector <selector>', 'pod label selector, e.g. llm-d.ai/inference-serving=true')
  .option('--k8s-pool <name>', 'InferencePool name (inference.networking.k8s.io/v1) instead of a selector')
  .option('--k8s-target-port <port>', 'serving port of selected pods', int('--k8s-target-port', 1))
  .option(
    '--kv-events-port <port>',
    'vLLM KV-event port on discovered pods',
    int('--kv-events-port', 1),
    5557,
  )
  .option('--host <host>', 'listen address', '0.0.0.0')
  .option('--port <port>', 'client port', int('--port'), 8080)
  .option(
    '--admin-port <port>',
    'admin port (/metrics, /debug/fleet, /debug/route)',
    int('--admin-port'),
    9090,
  )
  .option('--threads <n>', 'acceptor threads', int('--threads', 1), Math.max(1, availableParallelism()))
  .option('--api-key <key...>', 'accepted Bearer API keys (also KVEDGE_API_KEYS, comma-separated)', [])
  .option(
    '--max-body-bytes <n>',
    'largest request body (413 above)',
    int('--max-body-bytes', 1),
    8 * 1024 * 1024,
  )
  .option('--scrape-interval-ms <ms>', 'endpoint metrics scrape interval', int('--scrape-interval-ms', 1), 50)
  .option('--seed <n>', 'scheduler random seed (tie-breaks)', int('--seed'))
  .option('--log-level <level>', 'pino log level', process.env['LOG_LEVEL'] ?? 'info')
  .option(
    '--tokenizer <model=tokenizer...>',
    'tokenizer per served model for precise prefix routing (built-in llama3_1, qwen3, or a directory)',
    [],
  )
  .option('--redis-url <url>', 'share routing state with other replicas through Redis (redis://host:6379/0)')
  .option('--redis-sentinels <list>', 'Redis Sentinel HOST:PORT,... (instead of --redis-url)')
  .option('--redis-sentinel-master <name>', 'master name monitored by the sentinels', 'mymaster')
  .option('--redis-prefix <prefix>', 'prefix of every Redis key', 'kvedge:')
  .option(
    '--no-placement-claims',
    'do not claim where a new long prompt goes (siblings sent to several threads or replicas at once may split)',
  )
  .option(
    '--objectives <file>',
    'InferenceObjectives YAML (name + priority); negative priorities are shed with 429 when saturated',
  )
  .option(
    '--index-block-size <n>',
    "block size of the KV-event index keys (default: the precise producer's blockSizeTokens, else 16)",
    int('--index-block-size', 1),
  )
  .option(
    '--index-capacity <keys>',
    'blocks the KV-event index holds (~72 B each)',
    int('--index-capacity', 1024),
    2 ** 21,
  )
  .option(
    '--tokenizer-threads <n>',
    'tokenization workers per acceptor thread',
    int('--tokenizer-threads', 1),
    1,
  )
  .option(
    '--sim-pods <n>',
    'pods of the local simulated fleet when no endpoints are given',
    int('--sim-pods', 1),
    4,
  )
  .option('--sim-port <port>', 'HTTP port of the first simulated pod', int('--sim-port', 1), 8100)
  .action(async (o: ServeOptions) => {
    const logger = pino({ name: 'kvedge', level: o.logLevel });
    try {
      await serve(o, logger);
    } catch (err) {
      if (err instanceof SchedulerConfigError || err instanceof InvalidArgumentError) {
        console.error(`kvedge: ${err.message}`);
        process.exit(2);
      }
      throw err;
    }
  });

async function serve(o: ServeOptions, logger: pino.Logger): Promise<void> {
  const schedulerConfig = o.config
    ? await readFile(o.config, 'utf8')
    : o.policy
      ? namedConfigs[o.policy as keyof typeof namedConfigs]
      : null;
  const tokenizers = parseTokenizers(o.tokenizer);
  const objectives = o.objectives
    ? parseInferenceObjectives(await readFile(o.objectives, 'utf8'))
    : undefined;
  // Check the scheduler config before starting anything (a local fleet takes seconds to boot).
  const loaded = loadSchedulerConfig(schedulerConfig, objectives ? { objectives } : {});
  const indexBlockSize = resolveIndexBlockSize(loaded, o.indexBlockSize);
  let sim: SimFleet | null = null;
  let discovery = discoveryFrom(o);
  if (!discovery) {
    console.log(`kvedge: no endpoints given; starting a local simulated fleet of ${o.simPods} pods`);
    sim = await SimFleet.start({
      ...fleetOptionsFrom({
        ...SIM_DEFAULTS,
        pods: o.simPods,
        port: o.simPort,
        // The local pods' KV blocks line up with the index keys, as a well-configured vLLM's would.
        blockSize: indexBlockSize,
        fleetFile: null,
        controlPort: null,
      }),
      onPodStarted: (pod, i) => console.log(`  sim pod ${i + 1}/${o.simPods}: http://${pod.address}`),
    });
    // The simulated pods serve Llama 3.1 with its real tokenizer: precise routing works out of the box.
    tokenizers[SIM_DEFAULTS.model] ??= SIM_DEFAULTS.tokenizer;
    discovery = new StaticDiscovery(
      sim
        .endpoints()
        .map((e) => `${e.address}${e.kvEvents ? `@${e.kvEvents.split(':').at(-1)}` : ''}`)
        .join(','),
    );
  }
  const apiKeys = [...o.apiKey, ...(process.env['KVEDGE_API_KEYS']?.split(',').filter(Boolean) ?? [])];
  const router = await Router.start({
    discovery,
    schedulerConfig,
    edge: { host: o.host, port: o.port, apiKeys, maxBodyBytes: o.maxBodyBytes },
    adminPort: o.adminPort,
    threads: o.threads,
    scrapeIntervalMs: o.scrapeIntervalMs,
    logger,
    tokenizers,
    indexBlockSize,
    indexCapacityKeys: o.indexCapacity,
    tokenizerThreads: o.tokenizerThreads,
    ...(objectives ? { objectives } : {}),
    ...clusterFrom(o),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    placementClaims: o.placementClaims,
  });
  const model = sim ? sim.pods[0]!.models[0] : '<model>';
  console.log(
    `kvedge: routing on http://${o.host === '0.0.0.0' ? '127.0.0.1' : o.host}:${router.port} (admin :${router.adminPort}, ${o.threads} thread(s))`,
  );
  console.log('try:');
  console.log(
    `  curl -N http://127.0.0.1:${router.port}/v1/chat/completions -H 'content-type: application/json' \\\n` +
      `    -d '{"model":"${model}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32,"stream":true}'`,
  );
  console.log(`  curl -s http://127.0.0.1:${router.adminPort}/debug/fleet`);
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('kvedge: shutting down (draining in-flight requests)');
    await router.stop();
    await sim?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

/** Redis cluster-state settings from the flags (password from KVEDGE_REDIS_PASSWORD). */
function clusterFrom(o: ServeOptions): { cluster?: ClusterStateConfigInput } {
  const password = process.env['KVEDGE_REDIS_PASSWORD'];
  const common = {
    keyPrefix: o.redisPrefix,
    placementClaims: { enabled: o.placementClaims },
    ...(password ? { password } : {}),
  };
  if (o.redisSentinels) {
    const sentinels = o.redisSentinels
      .split(',')
      .filter(Boolean)
      .map((hp) => {
        const at = hp.lastIndexOf(':');
        return { host: hp.slice(0, at), port: Number(hp.slice(at + 1)) };
      });
    return { cluster: { ...common, mode: 'sentinel', sentinels, masterName: o.redisSentinelMaster } };
  }
  if (o.redisUrl) return { cluster: { ...common, mode: 'standalone', url: o.redisUrl } };
  return {};
}

function parseTokenizers(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const at = spec.lastIndexOf('=');
    if (at <= 0 || at === spec.length - 1) {
      throw new InvalidArgumentError(`--tokenizer expects MODEL=TOKENIZER, got '${spec}'`);
    }
    out[spec.slice(0, at)] = spec.slice(at + 1);
  }
  return out;
}

function discoveryFrom(o: ServeOptions): Discovery | null {
  const kind =
    o.discovery ??
    (o.endpoints
      ? 'static'
      : o.fleetFile
        ? 'file'
        : o.dnsName
          ? 'dns'
          : o.k8sSelector || o.k8sPool
            ? 'kubernetes'
            : null);
  switch (kind) {
    case 'static':
      if (!o.endpoints) throw new InvalidArgumentError('--discovery static needs --endpoints');
      return new StaticDiscovery(o.endpoints);
    case 'file':
      if (!o.fleetFile) throw new InvalidArgumentError('--discovery file needs --fleet-file');
      return new FileDiscovery({ path: o.fleetFile });
    case 'dns':
      if (!o.dnsName) throw new InvalidArgumentError('--discovery dns needs --dns-name');
      return new DnsDiscovery({
        name: o.dnsName,
        recordType: o.dnsRecord,
        ...(o.dnsPort ? { port: o.dnsPort } : {}),
        kvEventsPort: o.kvEventsPort,
      });
    case 'kubernetes':
      return new KubernetesDiscovery({
        namespace: o.k8sNamespace ?? process.env['POD_NAMESPACE'] ?? 'default',
        ...(o.k8sSelector ? { labelSelector: o.k8sSelector } : {}),
        ...(o.k8sPool ? { poolName: o.k8sPool } : {}),
        ...(o.k8sTargetPort ? { targetPorts: [o.k8sTargetPort] } : {}),
        kvEventsPort: o.kvEventsPort,
      });
    default:
      return null;
  }
}

await program.parseAsync();
