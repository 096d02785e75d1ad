/**
 * The acceptor threads' placement-claim table, raced by real worker threads over one
 * SharedArrayBuffer: every key has exactly one winner and every other thread reads the winner's
 * value; claims expire; a full probe run or an oversized value means "decide alone".
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { ClaimOutcome } from '../../src/routing/placement-agreement.ts';
import { MAX_CLAIM_VALUE_BYTES, ThreadClaimTable } from '../../src/routing/thread-claim-table.ts';
import type { ClaimWorkerData } from './support/claim-worker.ts';

const boot = new URL('../fleet/support/ts-worker-boot.mjs', import.meta.url);
const entry = new URL('./support/claim-worker.ts', import.meta.url).href;

function race(table: ThreadClaimTable, threads: number, keys: string[]): Promise<ClaimOutcome[][]> {
  const control = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, (_, i) => {
    const workerData: ClaimWorkerData = { entry, buffer: table.buffer, control, keys, name: `t${i}` };
    return new Worker(boot, { workerData });
  });
  const message = (w: Worker, type: string) =>
    new Promise<{ outcomes: ClaimOutcome[] }>((resolve, reject) => {
      w.on('message', (m: { type: string; outcomes: ClaimOutcome[] }) => m.type === type && resolve(m));
      w.on('error', reject);
    });
  const done = workers.map((w) => message(w, 'done'));
  return Promise.all(workers.map((w) => message(w, 'ready'))).then(async () => {
    Atomics.store(new Int32Array(control), 0, 1);
    Atomics.notify(new Int32Array(control), 0);
    const results = (await Promise.all(done)).map((m) => m.outcomes);
    await Promise.all(workers.map((w) => w.terminate()));
    return results;
  });
}

describe('ThreadClaimTable', () => {
  it('gives each key exactly one winner among racing threads, and the others its value', async () => {
    const table = ThreadClaimTable.create(60_000, 512);
    const keys = Array.from({ length: 200 }, (_, i) => (BigInt(i) * 0x9e3779b97f4a7c15n).toString(16));
    const results = await race(table, 4, keys);
    for (let k = 0; k < keys.length; k++) {
      const outcomes = results.map((r) => r[k]!);
      const winners = outcomes.flatMap((o, t) => (o.kind === 'won' ? [t] : []));
      expect(winners).toHaveLength(1);
      for (const [t, o] of outcomes.entries()) {
        if (t !== winners[0]) expect(o).toEqual({ kind: 'taken', value: `{"e":"t${winners[0]}"}` });
      }
    }
  }, 30_000);

  it('finds the first standing claim among candidate keys', () => {
    let now = 0;
    const table = ThreadClaimTable.create(100, 64, () => now);
    expect(table.find('m', [1n, 2n])).toBeNull();
    table.claim('m', 2n, 'two');
    table.claim('m', 3n, 'three');
    expect(table.find('m', [1n, 3n, 2n])).toBe('three');
    expect(table.find('other', [3n])).toBeNull();
    now = 100;
    expect(table.find('m', [3n, 2n])).toBeNull();
  });

  it('expires claims and keeps models apart', () => {
    let now = 1_000;
    const table = ThreadClaimTable.create(100, 64, () => now);
    expect(table.claim('a', 5n, 'x')).toEqual({ kind: 'won' });
    expect(table.claim('a', 5n, 'y')).toEqual({ kind: 'taken', value: 'x' });
    expect(table.claim('b', 5n, 'z')).toEqual({ kind: 'won' });
    now += 100;
    expect(table.claim('a', 5n, 'y')).toEqual({ kind: 'won' });
    expect(table.claim('a', 5n, 'w')).toEqual({ kind: 'taken', value: 'y' });
  });

  it('reuses expired slots and answers "unavailable" when a probe run is full or a value too large', () => {
    let now = 0;
    // One slot: every key probes the same one.
    const table = ThreadClaimTable.create(10, 1, () => now);
    expect(table.claim('m', 1n, 'first')).toEqual({ kind: 'won' });
    expect(table.claim('m', 2n, 'second')).toEqual({ kind: 'unavailable' });
    now = 10;
    expect(table.claim('m', 2n, 'second')).toEqual({ kind: 'won' });
    expect(table.claim('m', 3n, 'x'.repeat(MAX_CLAIM_VALUE_BYTES + 1))).toEqual({ kind: 'unavailable' });
    // Multi-byte values survive the round trip through shared memory.
    now = 20;
    expect(table.claim('m', 4n, '{"e":"pod-é"}')).toEqual({ kind: 'won' });
    expect(table.claim('m', 4n, 'other')).toEqual({ kind: 'taken', value: '{"e":"pod-é"}' });
  });
});
