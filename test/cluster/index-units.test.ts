import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { compareIds } from '../../src/cluster/change-feed.ts';
import { parseClusterStateConfig } from '../../src/cluster/config.ts';
import { batchFingerprint, HandoverBuffer } from '../../src/cluster/handover-buffer.ts';
import {
  applyChange,
  decodeChanges,
  encodeChanges,
  type IndexChange,
} from '../../src/cluster/index-change.ts';
import { PodLedger } from '../../src/cluster/pod-ledger.ts';
import { loadSnapshotInto } from '../../src/cluster/pod-snapshot.ts';
import { TIER_NAMES } from '../../src/index-store/device-tiers.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import { prefill } from './support/replicas.ts';

const POD = 'pod-a';
const open: MemoryBlockIndex[] = [];
afterEach(() => {
  for (const index of open.splice(0)) index.close();
});

function memory(): MemoryBlockIndex {
  const index = MemoryBlockIndex.create({ capacityKeys: 512, sweepIntervalMs: 0 });
  open.push(index);
  return index;
}

const key = fc.integer({ min: 1, max: 12 }).map(BigInt);
const engineKey = fc.integer({ min: 100, max: 110 }).map(BigInt);
const tier = fc.integer({ min: 0, max: 3 });
const change: fc.Arbitrary<IndexChange> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        tier,
        keys: fc.array(key, { minLength: 1, maxLength: 6 }),
        engine: fc.option(fc.array(engineKey, { minLength: 1, maxLength: 8 })),
      })
      .map(({ tier, keys, engine }) => ({
        op: 'add' as const,
        tier,
        keys: BigUint64Array.from(keys),
        engineKeys: BigUint64Array.from(engine ?? []),
      })),
  },
  { weight: 3, arbitrary: fc.record({ tier, engineKey }).map((c) => ({ op: 'rmEngine' as const, ...c })) },
  {
    weight: 1,
    arbitrary: fc
      .record({ tier, keys: fc.array(key, { minLength: 1, maxLength: 4 }) })
      .map(({ tier, keys }) => ({ op: 'rmKeys' as const, tier, keys: BigUint64Array.from(keys) })),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

function applyToLedger(ledger: PodLedger, c: IndexChange): void {
  switch (c.op) {
    case 'add':
      ledger.add(c.tier, c.keys, c.engineKeys.length > 0 ? c.engineKeys : null);
      break;
    case 'rmEngine':
      ledger.removeByEngineKey(c.tier, c.engineKey);
      break;
    case 'rmKeys':
      ledger.removeByRequestKeys(c.tier, c.keys);
      break;
    case 'clear':
      ledger.clear();
      break;
    default:
      break;
  }
}

/** Everything a lookup or an ingestion can observe of one pod. */
function observe(index: MemoryBlockIndex): unknown {
  const probes = [
    [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n],
    [12n, 11n, 10n, 9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n],
    [3n, 1n, 4n, 5n, 9n, 2n, 6n],
    [7n],
    [8n],
    [2n, 12n],
  ];
  const out: unknown[] = probes.map((p) => index.longestPrefix(p).get(POD) ?? null);
  for (let e = 100n; e <= 110n; e++) out.push([...index.requestKeysFor(POD, e)]);
  return out;
}

describe('index changes and snapshots', () => {
  it('round-trips every change through the stream encoding', () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 10 }), (changes) => {
        const all: IndexChange[] = [
          ...changes,
          {
            op: 'speculative',
            keys: BigUint64Array.from([1n, 2n ** 64n - 1n]),
            ttlMs: 2000,
            atMs: 1.7e12 + 0.25,
          },
          { op: 'remove' },
          { op: 'snapshot' },
        ];
        expect(decodeChanges(encodeChanges(all))).toEqual(all);
      }),
    );
    expect(() => decodeChanges(Buffer.from([1, 0, 5, 0, 0, 0, 0, 0, 0, 0]))).toThrow(RangeError);
  });

  it('rebuilds from a ledger snapshot, or from the replayed changes, exactly what the owner index holds', () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 40 }), (changes) => {
        const direct = memory();
        const replayed = memory();
        const ledger = new PodLedger(1000);
        for (const c of changes) {
          applyChange(direct, POD, c, 0);
          applyToLedger(ledger, c);
        }
        for (const c of decodeChanges(encodeChanges(changes))) applyChange(replayed, POD, c, 0);
        const loaded = memory();
        // The mirror being loaded holds stale state of the pod first: loading replaces it.
        loaded.add(POD, 'gpu', [5n, 6n], [105n]);
        loadSnapshotInto(loaded, POD, ledger.blocks, ledger.engine);
        const expected = observe(direct);
        expect(observe(replayed)).toEqual(expected);
        expect(observe(loaded)).toEqual(expected);
        for (const index of open.splice(0)) index.close();
      }),
      { numRuns: 300 },
    );
  });

  it('reports the field changes a snapshot needs, and caps what it records', () => {
    const ledger = new PodLedger(3);
    ledger.add(0, [1n, 2n], [10n, 20n]);
    let changes = ledger.takeChanges();
    expect(changes.blockSets).toEqual([
      [1n, 1],
      [2n, 1],
    ]);
    expect(changes.engineSets).toEqual([
      [10n, 1n],
      [20n, 2n],
    ]);
    ledger.add(1, [1n], null);
    ledger.removeByEngineKey(0, 20n);
    changes = ledger.takeChanges();
    expect(changes.blockSets).toEqual([[1n, 1 | (1 << 3)]]);
    expect(changes.blockDeletes).toEqual([2n]);
    expect(changes.engineDeletes).toEqual([20n]);
    ledger.add(0, [3n, 4n, 5n], null); // holds 1; room for two more
    expect([...ledger.blocks.keys()]).toEqual([1n, 3n, 4n]);
    expect(ledger.droppedAtCap).toBe(1);
    ledger.clear();
    expect(ledger.takeChanges()).toMatchObject({ cleared: true, blockSets: [], blockDeletes: [] });
  });

  it('ages speculative entries by their transit time', () => {
    const index = memory();
    applyChange(
      index,
      POD,
      { op: 'speculative', keys: BigUint64Array.from([1n]), ttlMs: 1000, atMs: 0 },
      1500,
    );
    expect(index.longestPrefix([1n]).size).toBe(0);
    const now = performance.timeOrigin + performance.now();
    applyChange(
      index,
      POD,
      { op: 'speculative', keys: BigUint64Array.from([1n]), ttlMs: 60_000, atMs: now - 10 },
      now,
    );
    expect(index.longestPrefix([1n]).get(POD)?.blocks).toBe(1);
    expect(TIER_NAMES).toContain('gpu');
  });
});

describe('handover buffer', () => {
  it('replays what followed the previous owner’s last batch, and refuses to guess', () => {
    const buffer = new HandoverBuffer(3);
    const batches = [1, 2, 3, 4].map((seed) => {
      const events = prefill(seed, 2).events;
      return { fingerprint: batchFingerprint(events), receivedAt: seed, model: 'm', events };
    });
    for (const batch of batches) buffer.push(POD, batch);
    expect(new Set(batches.map((b) => b.fingerprint)).size).toBe(4);
    expect(buffer.after(POD, batches[1]!.fingerprint)).toEqual(batches.slice(2));
    expect(buffer.after(POD, batches[3]!.fingerprint)).toEqual([]);
    expect(buffer.after(POD, null)).toEqual(batches.slice(1));
    expect(buffer.after(POD, batches[0]!.fingerprint)).toBeNull(); // dropped: position unknown
    expect(buffer.after('other', 'abc')).toEqual([]);
    expect(buffer.since(POD, 3)).toEqual(batches.slice(2));
    buffer.drop(POD);
    expect(buffer.size).toBe(0);
  });
});

describe('config', () => {
  it('fills defaults and validates each deployment shape', () => {
    const config = parseClusterStateConfig({});
    expect(config).toMatchObject({
      mode: 'standalone',
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'kvedge:',
      index: { shards: 1, leaseTtlMs: 5000, streamMaxLen: 10_000 },
      inflight: { publishIntervalMs: 100, ttlMs: 1500 },
    });
    expect(() => parseClusterStateConfig({ mode: 'sentinel' })).toThrow(/sentinel/);
    expect(() => parseClusterStateConfig({ mode: 'cluster', nodes: [] })).toThrow(/node/);
    expect(() => parseClusterStateConfig({ keyPrefix: 'a{b}' })).toThrow(/keyPrefix/);
    expect(
      parseClusterStateConfig({ mode: 'cluster', nodes: [{ host: 'r1', port: 7000 }], tls: { ca: 'pem' } })
        .tls,
    ).toEqual({ ca: 'pem', rejectUnauthorized: true });
  });

  it('orders stream ids numerically', () => {
    expect(compareIds('10-0', '9-5')).toBeGreaterThan(0);
    expect(compareIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareIds('0-0', '0-0')).toBe(0);
  });
});
