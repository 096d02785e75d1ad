/**
 * Defaults and option parsing shared by `npm run sim`, the router's embedded local fleet and the
 * tests: one place that turns a few user-facing knobs into full pod configurations.
 */
import { getTimingProfile } from '../engine/timing-profiles.ts';
import type { EngineConfig } from '../engine/types.ts';
import type { SimFleetOptions } from './sim-fleet.ts';

export interface SimCliOptions {
  pods: number;
  host: string;
  port: number;
  kvPort: number | null;
  replayPort: number | null;
  fleetFile: string | null;
  controlPort: number | null;
  model: string;
  tokenizer: string;
  profile: string;
  speed: number;
  blockSize: number;
  numGpuBlocks: number | null;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxModelLen: number;
  maxWaiting: number;
  loraModules: string[];
  maxLoras: number;
  eventFormat: 'array' | 'map';
  hashType: 'int' | 'bytes';
  hashAlgo: 'sha256_cbor' | 'sha256';
  pythonHashSeed: string;
  maxBodyBytes: number;
  defaultMaxTokens: number;
}

/** Defaults: an 8-billion-parameter Llama 3.1 on one H100, with vLLM's serving defaults. */
export const SIM_DEFAULTS: SimCliOptions = {
  pods: 2,
  host: '127.0.0.1',
  port: 8100,
  kvPort: 5557,
  replayPort: 5657,
  fleetFile: '.kvedge/fleet.yaml',
  controlPort: 8099,
  model: 'meta-llama/Llama-3.1-8B-Instruct',
  tokenizer: 'llama3_1',
  profile: 'llama-3.1-8b-h100',
  speed: 1,
  blockSize: 16,
  numGpuBlocks: null,
  maxNumSeqs: 256,
  maxNumBatchedTokens: 8192,
  maxModelLen: 32768,
  maxWaiting: 1000,
  loraModules: [],
  maxLoras: 1,
  eventFormat: 'array',
  hashType: 'int',
  hashAlgo: 'sha256_cbor',
  pythonHashSeed: process.env['PYTHONHASHSEED'] ?? '0',
  maxBodyBytes: 32 * 1024 * 1024,
  defaultMaxTokens: 1024,
};

export function engineConfigFrom(o: SimCliOptions): EngineConfig {
  const timing = getTimingProfile(o.profile);
  if ((o.blockSize & (o.blockSize - 1)) !== 0 || o.blockSize < 1 || o.blockSize > 128) {
    throw new Error(`--block-size must be a power of two up to 128 (got ${o.blockSize})`);
  }
  // A profile sizes its KV pool in tokens; convert to blocks of the chosen size.
  const numGpuBlocks = o.numGpuBlocks ?? Math.floor(timing.kvCacheTokens / o.blockSize);
  return {
    model: o.model,
    blockSize: o.blockSize,
    numGpuBlocks,
    maxNumSeqs: o.maxNumSeqs,
    maxNumBatchedTokens: o.maxNumBatchedTokens,
    maxModelLen: o.maxModelLen,
    maxWaitingRequests: o.maxWaiting,
    maxLoras: o.maxLoras,
    enablePrefixCaching: true,
    timing,
    hashAlgo: o.hashAlgo,
    pythonHashSeed: o.pythonHashSeed,
  };
}

export function fleetOptionsFrom(o: SimCliOptions): SimFleetOptions {
  return {
    pods: o.pods,
    basePort: o.port,
    kvPort: o.kvPort,
    replayPort: o.kvPort === null ? null : o.replayPort,
    fleetFile: o.fleetFile,
    controlPort: o.controlPort,
    pod: {
      host: o.host,
      tokenizer: o.tokenizer,
      loraModules: o.loraModules,
      engine: engineConfigFrom(o),
      speed: o.speed,
      kvEvents: { format: o.eventFormat, hashType: o.hashType, bufferSteps: 10_000 },
      maxBodyBytes: o.maxBodyBytes,
      defaultMaxTokens: o.defaultMaxTokens,
    },
  };
}
