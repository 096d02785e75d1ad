/**
 * `npm run sim -- --pods 8 --port 8100`: start a fleet of simulated vLLM pods in this process.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { SIM_DEFAULTS, fleetOptionsFrom, type SimCliOptions } from '../sim/server/sim-options.ts';
import { SimFleet } from '../sim/server/sim-fleet.ts';
import { listTimingProfiles } from '../sim/engine/timing-profiles.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};
const portOrOff = (name: string) => (v: string) => (v === 'off' ? null : int(name)(v));
const d = SIM_DEFAULTS;

const program = new Command()
  .name('kvedge-sim')
  .description('Simulated vLLM pods: OpenAI API with SSE, vLLM metrics, ZeroMQ KV events, fault injection.')
  .option('--pods <n>', 'number of pods', int('--pods'), d.pods)
  .option('--host <host>', 'listen host', d.host)
  .option('--port <port>', 'HTTP port of pod 0 (pod i uses port+i)', int('--port'), d.port)
  .option(
    '--kv-port <port|off>',
    'KV-event PUB port of pod 0 (binds tcp://*:port+i)',
    portOrOff('--kv-port'),
    d.kvPort,
  )
  .option(
    '--replay-port <port|off>',
    'KV-event replay ROUTER port of pod 0',
    portOrOff('--replay-port'),
    d.replayPort,
  )
  .option(
    '--fleet-file <path|off>',
    'fleet file for the router',
    (v) => (v === 'off' ? null : v),
    d.fleetFile,
  )
  .option(
    '--control-port <port|off>',
    'fleet control listener (crash/restart/faults)',
    portOrOff('--control-port'),
    d.controlPort,
  )
  .option('--model <name>', 'served model name', d.model)
  .option(
    '--tokenizer <name|dir>',
    'llama3_1, qwen3, synthetic, or a directory with tokenizer.json',
    d.tokenizer,
  )
  .addOption(
    new Option('--profile <name>', 'timing profile').default(d.profile).choices(listTimingProfiles()),
  )
  .option('--speed <x>', 'engine seconds per wall second', Number, d.speed)
  .option(
    '--block-size <n>',
    'KV block size in tokens (power of two <= 128)',
    int('--block-size'),
    d.blockSize,
  )
  .option('--num-gpu-blocks <n>', 'KV blocks per pod (default: from the profile)', int('--num-gpu-blocks'))
  .option('--max-num-seqs <n>', 'max running sequences', int('--max-num-seqs'), d.maxNumSeqs)
  .option(
    '--max-num-batched-tokens <n>',
    'per-step token budget',
    int('--max-num-batched-tokens'),
    d.maxNumBatchedTokens,
  )
  .option('--max-model-len <n>', 'context length', int('--max-model-len'), d.maxModelLen)
  .option('--max-waiting <n>', 'waiting-queue bound (overflow gets 429)', int('--max-waiting'), d.maxWaiting)
  .option('--lora-modules <name...>', 'LoRA adapters served as model names (name or name=path)', [])
  .option('--max-loras <n>', 'max distinct LoRAs in a batch', int('--max-loras'), d.maxLoras)
  .addOption(
    new Option('--event-format <f>', 'KV-event generation').choices(['array', 'map']).default(d.eventFormat),
  )
  .addOption(
    new Option('--hash-type <t>', 'block hashes in events').choices(['int', 'bytes']).default(d.hashType),
  )
  .addOption(
    new Option('--hash-algo <a>', 'prefix-caching hash')
      .choices(['sha256_cbor', 'sha256'])
      .default(d.hashAlgo),
  )
  .option('--python-hash-seed <s>', 'PYTHONHASHSEED for NONE_HASH', d.pythonHashSeed)
  .option(
    '--default-max-tokens <n>',
    'max_tokens when a request gives none',
    int('--default-max-tokens'),
    d.defaultMaxTokens,
  )
  .action(async (raw: Record<string, unknown>) => {
    const o: SimCliOptions = {
      ...d,
      ...(raw as Partial<SimCliOptions>),
      numGpuBlocks: (raw['numGpuBlocks'] as number | undefined) ?? null,
      loraModules: ((raw['loraModules'] as string[]) ?? []).map((m) => m.split('=')[0]!),
    };
    const started = Date.now();
    console.log(
      `kvedge-sim: starting ${o.pods} pod(s), model ${o.model}, profile ${o.profile}, tokenizer ${o.tokenizer}`,
    );
    const fleet = await SimFleet.start({
      ...fleetOptionsFrom(o),
      onPodStarted: (pod, i) =>
        console.log(`  [${i + 1}/${o.pods}] ${pod.config.name} http://${pod.address}`),
    });
    const eps = fleet.endpoints();
    console.table(
      eps.map((e) => ({
        address: e.address,
        kvEvents: e.kvEvents ?? '-',
        replay: e.replay ?? '-',
        models: e.models?.join(','),
      })),
    );
    if (o.fleetFile) console.log(`fleet file: ${o.fleetFile}`);
    if (fleet.controlPort) console.log(`control: http://127.0.0.1:${fleet.controlPort}/pods`);
    console.log(`ready in ${Date.now() - started} ms. Ctrl-C to stop.`);
    const shutdown = async (): Promise<void> => {
      await fleet.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void shutdown());
    process.once('SIGTERM', () => void shutdown());
  });

await program.parseAsync();
