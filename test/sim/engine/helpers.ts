/**
 * Test doubles for the engine tests: a stand-in block hasher (sha256 over a simple serialization,
 * chained through the parent digest), request builders, a recording observer and a KV-event log
 * that keeps the multiset of stored hashes the way a router's index would.
 */
import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';
import type { BlockExtraKeys, KvEvent } from '../../../src/kv-protocol/events.ts';
import type {
  BlockHashFn,
  EngineConfig,
  EngineRequest,
  RequestObserver,
  RequestResult,
} from '../../../src/sim/engine/types.ts';
import { createEngine } from '../../../src/sim/engine/engine.ts';
import { engineConfigFor } from '../../../src/sim/engine/timing-profiles.ts';
import { VirtualClock } from '../../../src/sim/engine/virtual-clock.ts';

function serializeExtraKeys(extraKeys: BlockExtraKeys): string {
  if (extraKeys === null) return 'null';
  return JSON.stringify(extraKeys.map((k) => (k instanceof Uint8Array ? Buffer.from(k).toString('hex') : k)));
}

const ROOT = new Uint8Array(32).fill(0xee);
let scratch = new Int32Array(8 + 256);

/**
 * Chained sha256 stand-in for vLLM's block hash: sha256 over parent digest (or a fixed root),
 * the token ids as int32, then the extra keys as JSON. Collision-free in practice and
 * order-sensitive; one-shot `crypto.hash` keeps it cheap enough for fleet-scale runs.
 */
export const sha256BlockHash: BlockHashFn = (parent, tokens, extraKeys) => {
  const head = parent ?? ROOT;
  const words = Math.ceil(head.length / 4) + tokens.length;
  if (scratch.length < words) scratch = new Int32Array(words * 2);
  const bytes = new Uint8Array(scratch.buffer, 0, words * 4);
  bytes.fill(0, 0, Math.ceil(head.length / 4) * 4);
  bytes.set(head, 0);
  const offset = Math.ceil(head.length / 4);
  for (let i = 0; i < tokens.length; i++) scratch[offset + i] = tokens[i]!;
  const input =
    extraKeys === null ? bytes : Buffer.concat([bytes, Buffer.from(serializeExtraKeys(extraKeys))]);
  const digest = hash('sha256', input, 'binary'); // 'binary' = latin1: one char per byte
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i);
  return out;
};

/** The stand-in hasher wrapped with a call counter. */
export function countingHasher(): { hashBlock: BlockHashFn; calls: () => number } {
  let n = 0;
  return {
    hashBlock: (parent, tokens, extraKeys) => {
      n++;
      return sha256BlockHash(parent, tokens, extraKeys);
    },
    calls: () => n,
  };
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function range(start: number, length: number): number[] {
  return Array.from({ length }, (_, i) => start + i);
}

let outputBase = 1_000_000;

export interface RequestOptions {
  readonly loraName?: string | null;
  readonly cacheSalt?: string | null;
  readonly outputTokenIds?: readonly number[];
  readonly remoteDecode?: boolean;
  readonly remotePrefill?: boolean;
  readonly priority?: number;
}

/** A request whose output ids are fresh (never collide with prompt ids) unless given. */
export function makeRequest(
  id: string,
  promptTokenIds: readonly number[],
  maxTokens: number,
  options: RequestOptions = {},
): EngineRequest {
  const outputTokenIds = options.outputTokenIds ?? range((outputBase += 10_000), maxTokens);
  return {
    id,
    promptTokenIds,
    maxTokens,
    loraName: options.loraName ?? null,
    cacheSalt: options.cacheSalt ?? null,
    outputTokenIds,
    remoteDecode: options.remoteDecode,
    remotePrefill: options.remotePrefill,
    priority: options.priority,
  };
}

/** Observer that records everything it is told. */
export class Recorder implements RequestObserver {
  readonly tokens: number[] = [];
  readonly indexes: number[] = [];
  readonly times: number[] = [];
  result: RequestResult | undefined;
  finishCalls = 0;

  onToken(tokenId: number, index: number, time: number): void {
    this.tokens.push(tokenId);
    this.indexes.push(index);
    this.times.push(time);
  }

  onFinish(result: RequestResult): void {
    this.result = result;
    this.finishCalls++;
  }

  get ttft(): number {
    return this.result!.firstTokenTime - this.result!.arrivalTime;
  }

  /** Gaps between consecutive tokens. */
  gaps(): number[] {
    return this.times.slice(1).map((t, i) => t - this.times[i]!);
  }
}

/**
 * Collects KV event batches and maintains the multiset of stored hashes (a hash stored twice by
 * two physical blocks needs two removals), checking parent chaining as it goes.
 */
export class EventLog {
  readonly batches: { events: readonly KvEvent[]; time: number }[] = [];
  readonly stored = new Map<string, number>();
  storedCount = 0;
  removedCount = 0;
  clears = 0;
  readonly problems: string[] = [];

  readonly onKvEvents = (events: readonly KvEvent[], time: number): void => {
    this.batches.push({ events, time });
    for (const e of events) {
      if (e.type === 'BlockStored') {
        if (e.parentBlockHash !== null) {
          const parent = hex(e.parentBlockHash as Uint8Array);
          if (!this.stored.has(parent)) this.problems.push(`BlockStored parent ${parent} is not stored`);
        }
        if (e.tokenIds.length !== e.blockHashes.length * e.blockSize)
          this.problems.push('token count mismatch');
        if (e.extraKeys !== null && e.extraKeys.length !== e.blockHashes.length)
          this.problems.push('extraKeys length');
        for (const h of e.blockHashes) {
          const k = hex(h as Uint8Array);
          this.stored.set(k, (this.stored.get(k) ?? 0) + 1);
          this.storedCount++;
        }
      } else if (e.type === 'BlockRemoved') {
        for (const h of e.blockHashes) {
          const k = hex(h as Uint8Array);
          const n = this.stored.get(k) ?? 0;
          if (n === 0) this.problems.push(`BlockRemoved for unknown ${k}`);
          else if (n === 1) this.stored.delete(k);
          else this.stored.set(k, n - 1);
          this.removedCount++;
        }
      } else {
        this.stored.clear();
        this.clears++;
      }
    }
  };

  /** Number of stored block instances (what the pool should report as cached blocks). */
  get liveBlocks(): number {
    let n = 0;
    for (const c of this.stored.values()) n += c;
    return n;
  }

  all(): KvEvent[] {
    return this.batches.flatMap((b) => b.events);
  }
}

/** The tiny-test profile config with overrides. */
export function tinyConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return engineConfigFor('tiny-test', overrides);
}

/** One engine on a fresh virtual clock, with an event log and a counting hasher. */
export function harness(overrides: Partial<EngineConfig> = {}) {
  const clock = new VirtualClock();
  const log = new EventLog();
  const hasher = countingHasher();
  const engine = createEngine(tinyConfig(overrides), clock, {
    hashBlock: hasher.hashBlock,
    hooks: { onKvEvents: log.onKvEvents },
  });
  /** Submit now; the request must be accepted. */
  const submit = (request: EngineRequest): Recorder => {
    const recorder = new Recorder();
    const outcome = engine.submit(request, recorder);
    if (!outcome.ok) throw new Error(`submit rejected: ${outcome.reason}`);
    return recorder;
  };
  /** Submit at engine time `time`. */
  const submitAt = (time: number, request: EngineRequest): Recorder => {
    const recorder = new Recorder();
    clock.setTimer(time - clock.now(), () => {
      const outcome = engine.submit(request, recorder);
      if (!outcome.ok) throw new Error(`submit rejected: ${outcome.reason}`);
    });
    return recorder;
  };
  return { clock, log, hasher, engine, submit, submitAt };
}
