/**
 * A {@link PrefixIndexStore} for `approx-prefix-cache-producer` shared by router replicas: what
 * one replica sent where counts on every replica (llm-d's approximate index is per replica, which
 * is why it cannot run active-active).
 *
 * Reads are local ({@link PrefixHistoryMirror}). `add` updates the local copy and sends one
 * fire-and-forget script that records the blocks in the endpoint's Redis LRU (a sorted set scored
 * by recency, trimmed to the capacity) and publishes them; peers apply the same `add` to their
 * copies. A replica that starts or resubscribes reloads every endpoint's sorted set.
 *
 * A write that does not reach Redis (skipped while degraded, or failed) is kept and re-sent, and
 * published, when Redis is back ({@link SharedPrefixIndexStore.resync}): a prefix routed during a
 * Redis outage or a Sentinel failover would otherwise stay unknown to the other replicas for as
 * long as it stays in use.
 *
 * Bounds: per endpoint at most `capacity` members in Redis and locally; an endpoint's set expires
 * after `ttlMs` without writes. Unsent writes: at most {@link MAX_UNSENT_BLOCKS} blocks, beyond
 * which the whole local history is republished instead.
 */
import type { PrefixIndexStore } from '../scheduler/producers/prefix-index-store.ts';
import { packKeys, readKey, unpackKeys } from './key-bytes.ts';
import { LuaScript } from './lua-script.ts';
import { PrefixHistoryMirror } from './prefix-history-mirror.ts';
import { isConnectionError } from './redis-connection.ts';
import type { ClusterStoreDeps } from './store-deps.ts';

/**
 * KEYS: endpoint's set, endpoint index. ARGV: packed hashes (most recent first), base score,
 * capacity, TTL, endpoint, channel, message.
 */
const ADD = new LuaScript(`
local blob = ARGV[1]
local n = #blob / 8
local base = tonumber(ARGV[2])
local i = 0
while i < n do
  local args = {}
  local last = math.min(i + 512, n) - 1
  for j = i, last do
    args[#args + 1] = base + (n - 1 - j)
    args[#args + 1] = string.sub(blob, j * 8 + 1, j * 8 + 8)
  end
  redis.call('ZADD', KEYS[1], unpack(args))
  i = last + 1
end
local size = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[3])
if size > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, size - cap - 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[5], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
`);

/** KEYS: endpoint's set, endpoint index. ARGV: endpoint, channel, message. */
const REMOVE = new LuaScript(`
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`);

/** Recency scores: milliseconds since this epoch × 4096 + position, exact in a double until ~2090. */
const SCORE_EPOCH_MS = 1_700_000_000_000;
/** Blocks per script call (positions must stay below 4096). */
const MAX_BLOCKS_PER_WRITE = 4096;
/** Unsent blocks kept for re-sending (8 B each plus the array); more means a full republish. */
const MAX_UNSENT_BLOCKS = 1 << 18;

interface UnsentWrite {
  readonly endpointId: string;
  readonly hashes: readonly bigint[];
  readonly capacity: number;
  readonly offset: number;
}

export interface SharedPrefixHistoryOptions extends ClusterStoreDeps {
  readonly plugin: string;
  readonly ttlMs: number;
}

export class SharedPrefixIndexStore implements PrefixIndexStore {
  readonly #o: SharedPrefixHistoryOptions;
  readonly #local = new PrefixHistoryMirror();
  #unsent: UnsentWrite[] = [];
  #unsentBlocks = 0;
  /** Unsent writes overflowed: only a full republish restores what peers missed. */
  #unsentOverflow = false;
  #closed = false;

  constructor(options: SharedPrefixHistoryOptions) {
    this.#o = options;
    options.hub.subscribe(options.keys.historyChannel(options.plugin), {
      onMessage: (message) => this.#onMessage(message),
      onResubscribed: () => void this.reload(),
    });
  }

  longestPrefix(hashes: readonly bigint[]): Map<string, number> {
    return this.#local.longestPrefix(hashes);
  }

  add(endpointId: string, hashes: readonly bigint[], capacity: number): void {
    if (capacity <= 0 || hashes.length === 0) return;
    this.#local.add(endpointId, hashes, capacity);
    for (let i = 0; i < hashes.length; i += MAX_BLOCKS_PER_WRITE) {
      this.#write(endpointId, hashes.slice(i, i + MAX_BLOCKS_PER_WRITE), capacity, i);
    }
  }

  removeEndpoint(endpointId: string): void {
    this.#local.removeEndpoint(endpointId);
    const { health, client, keys, plugin, replicaId, counters } = this.#o;
    if (!health.healthy) {
      counters.writesSkippedDegraded++;
      return;
    }
    REMOVE.run(
      client,
      [keys.history(plugin, endpointId), keys.historyEndpoints(plugin)],
      [endpointId, keys.historyChannel(plugin), Buffer.from(`r\t${replicaId}\t${endpointId}\t0\n`)],
    ).catch((err: unknown) => this.#failed(err));
  }

  endpointIds(): string[] {
    return this.#local.endpointIds();
  }

  blockCount(endpointId: string): number {
    return this.#local.blockCount(endpointId);
  }

  /** Loads every endpoint's history from Redis into the local copy (Redis order wins for recency). */
  async reload(): Promise<void> {
    if (this.#closed || !this.#o.health.healthy) return;
    const { client, keys, plugin } = this.#o;
    try {
      const endpoints = await client.hgetall(keys.historyEndpoints(plugin));
      for (const [endpointId, capacityText] of Object.entries(endpoints)) {
        const capacity = Number(capacityText);
        if (!(capacity > 0)) continue;
        const members = await client.zrangeBuffer(keys.history(plugin, endpointId), 0, -1, 'REV');
        const hashes = members.filter((m) => m.length === 8).map((m) => readKey(m));
        if (hashes.length > 0) this.#local.add(endpointId, hashes, capacity);
      }
    } catch (err) {
      this.#failed(err);
    }
  }

  /**
   * After (re)connecting: writes what Redis is missing from this replica — everything when Redis
   * lost its data, else the writes that never reached it — then loads what the others wrote.
   * Re-sent writes are published too: a peer that reloaded before they landed still learns them.
   */
  async resync(redisLostData: boolean): Promise<void> {
    const unsent = this.#unsent;
    const overflow = this.#unsentOverflow;
    this.#unsent = [];
    this.#unsentBlocks = 0;
    this.#unsentOverflow = false;
    if (redisLostData || overflow) this.republish();
    else {
      for (const w of unsent) {
        // An endpoint removed meanwhile keeps no history.
        if (this.#local.capacityOf(w.endpointId) > 0)
          this.#write(w.endpointId, w.hashes, w.capacity, w.offset);
      }
    }
    await this.reload();
  }

  /** Writes (and publishes) the whole local history to Redis, e.g. after Redis lost its data. */
  republish(): void {
    for (const endpointId of this.#local.endpointIds()) {
      const hashes = this.#local.recentFirst(endpointId);
      const capacity = this.#local.capacityOf(endpointId);
      // Oldest chunk first, so that a peer applying the messages in order ends with the same recency.
      const last = Math.floor((hashes.length - 1) / MAX_BLOCKS_PER_WRITE) * MAX_BLOCKS_PER_WRITE;
      for (let i = last; i >= 0; i -= MAX_BLOCKS_PER_WRITE) {
        this.#write(endpointId, hashes.slice(i, i + MAX_BLOCKS_PER_WRITE), capacity, i);
      }
    }
  }

  close(): void {
    this.#closed = true;
  }

  /** @param offset position of the first hash in the prompt (later chunks rank below earlier ones). */
  #write(endpointId: string, hashes: readonly bigint[], capacity: number, offset: number): void {
    const { health, client, keys, plugin, replicaId, counters, ttlMs } = this.#o;
    if (this.#closed) return;
    if (!health.healthy) {
      counters.writesSkippedDegraded++;
      this.#keepUnsent({ endpointId, hashes, capacity, offset });
      return;
    }
    const blob = packKeys(hashes);
    const header = Buffer.from(`a\t${replicaId}\t${endpointId}\t${capacity}\n`);
    const base = (Date.now() - SCORE_EPOCH_MS) * 4096 - offset;
    ADD.run(
      client,
      [keys.history(plugin, endpointId), keys.historyEndpoints(plugin)],
      [blob, base, capacity, ttlMs, endpointId, keys.historyChannel(plugin), Buffer.concat([header, blob])],
    ).then(
      () => counters.historyWrites++,
      (err: unknown) => {
        // Possibly applied (a timeout after the fact): re-sending is harmless, an add is idempotent.
        if (isConnectionError(err)) this.#keepUnsent({ endpointId, hashes, capacity, offset });
        this.#failed(err);
      },
    );
  }

  #keepUnsent(write: UnsentWrite): void {
    if (this.#unsentOverflow) return;
    if (this.#unsentBlocks + write.hashes.length > MAX_UNSENT_BLOCKS) {
      this.#unsentOverflow = true;
      this.#unsent = [];
      this.#unsentBlocks = 0;
      return;
    }
    this.#unsent.push(write);
    this.#unsentBlocks += write.hashes.length;
  }

  #onMessage(message: Buffer): void {
    const newline = message.indexOf(0x0a);
    if (newline < 0) return;
    const [op, replica, endpointId, capacityText] = message.subarray(0, newline).toString('utf8').split('\t');
    if (!endpointId || replica === this.#o.replicaId) return;
    this.#o.counters.historyReceived++;
    if (op === 'r') {
      this.#local.removeEndpoint(endpointId);
      return;
    }
    const body = message.subarray(newline + 1);
    const capacity = Number(capacityText);
    if (op !== 'a' || body.length % 8 !== 0 || !(capacity > 0)) return;
    this.#local.add(endpointId, Array.from(unpackKeys(body, 0, body.length / 8)), capacity);
  }

  #failed(err: unknown): void {
    this.#o.counters.redisErrors++;
    this.#o.health.reportFailure(err);
  }
}
