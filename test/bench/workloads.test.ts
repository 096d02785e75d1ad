import { describe, expect, it } from 'vitest';
import { churn } from '../../bench/workloads/churn.ts';
import { llmdSharedPrefix, W1_SHAPE } from '../../bench/workloads/llm-d-shared-prefix.ts';
import { multiTurn, MULTI_TURN_SHAPE } from '../../bench/workloads/multi-turn.ts';
import { noReuse } from '../../bench/workloads/no-reuse.ts';
import { sglangGsp } from '../../bench/workloads/sglang-gsp.ts';
import { siblingBursts, SIBLING_SHAPE } from '../../bench/workloads/sibling-bursts.ts';
import { singlePrefix } from '../../bench/workloads/single-prefix.ts';
import { streamFor } from '../../bench/workloads/token-source.ts';
import type { WorkloadRequest } from '../../bench/workloads/types.ts';

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Distinct prompts by content (keyed on the first and last 64 tokens, enough for random tokens). */
function distinct(requests: readonly WorkloadRequest[]): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const r of requests) {
    const p = r.prompt();
    out.set(`${p.slice(0, 64).join(',')}|${p.slice(-64).join(',')}`, p);
  }
  return out;
}

describe('llm-d-shared-prefix (W1)', () => {
  const w = llmdSharedPrefix.build({ seed: 1 });

  it('has 150 groups × 5 prompts of 6000 + 1200 tokens and 1000-token answers', () => {
    const prompts = [...distinct(w.requests).values()];
    expect(prompts.length).toBeLessThanOrEqual(150 * 5);
    expect(prompts.length).toBeGreaterThan(600);
    for (const r of w.requests) {
      expect(r.promptLength).toBe(7200);
      expect(r.outputTokenIds).toHaveLength(1000);
    }
    const systems = new Set(prompts.map((p) => p.slice(0, 6000).join(',')));
    expect(systems.size).toBe(150);
    // Prompts of one group share exactly the system prompt.
    const byGroup = new Map<string, (readonly number[])[]>();
    for (const p of prompts) {
      const key = p.slice(0, 8).join(',');
      byGroup.set(key, [...(byGroup.get(key) ?? []), p]);
    }
    for (const group of byGroup.values()) {
      expect(group.length).toBeLessThanOrEqual(5);
      if (group.length > 1) expect(commonPrefix(group[0]!, group[1]!)).toBe(6000);
    }
  });

  it('sizes KV so the working set is 73% of the fleet (4802 blocks of 64 at 8 pods)', () => {
    expect(w.fleet).toMatchObject({
      pods: 8,
      profile: 'qwen2.5-32b-h100-tp2',
      blockSize: 64,
      numGpuBlocks: 4802,
    });
    const workingSet = W1_SHAPE.groups * 6000 + W1_SHAPE.groups * 5 * 1200;
    expect(workingSet / (8 * 4802 * 64)).toBeCloseTo(0.732, 3);
  });

  it('runs a warm-up then a rising ladder, with Poisson arrivals inside each stage', () => {
    expect(w.stages[0]!.warmup).toBe(true);
    const rates = w.stages.filter((s) => !s.warmup).map((s) => s.rate!);
    expect(rates.length).toBe(6);
    for (let i = 1; i < rates.length; i++) expect(rates[i]!).toBeGreaterThan(rates[i - 1]!);
    for (const r of w.requests) {
      const stage = w.stages[r.stage]!;
      expect(r.arrivalS).toBeGreaterThanOrEqual(stage.startS);
      expect(r.arrivalS).toBeLessThan(stage.startS + stage.durationS);
    }
    const top = w.stages.at(-1)!;
    const inTop = w.requests.filter((r) => r.stage === top.index).length;
    expect(inTop / top.durationS).toBeGreaterThan(top.rate! * 0.75);
    expect(inTop / top.durationS).toBeLessThan(top.rate! * 1.25);
  });

  it('honours --rate, --ladder, --duration and --requests', () => {
    expect(llmdSharedPrefix.build({ seed: 1, rate: 2, durationS: 10 }).stages).toHaveLength(1);
    const ladder = llmdSharedPrefix.build({
      seed: 1,
      ladder: [
        { rate: 1, durationS: 5 },
        { rate: 2, durationS: 5 },
      ],
    });
    expect(ladder.stages.map((s) => [s.rate, s.startS])).toEqual([
      [1, 0],
      [2, 5],
    ]);
    expect(llmdSharedPrefix.build({ seed: 1, maxRequests: 25 }).requests).toHaveLength(25);
  });
});

describe('sglang-gsp (W3)', () => {
  const w = sglangGsp.build({ seed: 1 });

  it('is 64 groups × 16 prompts of 2048 + 128 tokens, 256 out, all at t=0', () => {
    expect(w.requests).toHaveLength(1024);
    const prompts = [...distinct(w.requests).values()];
    expect(prompts).toHaveLength(1024);
    expect(new Set(prompts.map((p) => p.slice(0, 2048).join(','))).size).toBe(64);
    for (const r of w.requests) {
      expect(r.arrivalS).toBe(0);
      expect(r.prompt()).toHaveLength(2176);
      expect(r.outputTokenIds).toHaveLength(256);
    }
  });

  it('is shuffled: consecutive requests rarely share a group', () => {
    const groups = w.requests.slice(0, 64).map((r) => r.prompt().slice(0, 4).join(','));
    let same = 0;
    for (let i = 1; i < groups.length; i++) if (groups[i] === groups[i - 1]) same++;
    expect(same).toBeLessThan(8);
  });
});

describe('multi-turn (W6)', () => {
  const w = multiTurn.build({ seed: 1 });

  it('grows each turn by the previous answer plus a new question', () => {
    expect(w.requests).toHaveLength(MULTI_TURN_SHAPE.users * MULTI_TURN_SHAPE.rounds);
    const byId = new Map(w.requests.map((r) => [r.id, r]));
    for (const r of w.requests) {
      const prompt = r.prompt();
      expect(prompt).toHaveLength(r.promptLength);
      if (r.after === undefined) {
        expect(r.promptLength).toBe(1000 + 2000 + 100);
        continue;
      }
      const previous = byId.get(r.after)!;
      const expectedPrefix = [...previous.prompt(), ...previous.outputTokenIds];
      expect(prompt.slice(0, expectedPrefix.length)).toEqual(expectedPrefix);
      expect(prompt.length).toBe(expectedPrefix.length + 100);
    }
  });

  it('shares the system prompt across users, not the history', () => {
    const [u0, u1] = [w.requests[0]!.prompt(), w.requests[1]!.prompt()];
    expect(commonPrefix(u0, u1)).toBe(1000);
  });
});

describe('single-prefix (W5), no-reuse (W9), sibling-bursts (W8), churn (W12)', () => {
  it('single-prefix: one 2548-token prefix, 7252-token questions, 430 out, 2 pods at 3 req/s', () => {
    const w = singlePrefix.build({ seed: 1 });
    expect(w.fleet.pods).toBe(2);
    expect(w.stages[0]!.rate).toBe(3);
    const first = w.requests[0]!.prompt();
    for (const r of w.requests.slice(1, 40)) {
      expect(r.promptLength).toBe(9800);
      expect(r.outputTokenIds).toHaveLength(430);
      expect(commonPrefix(first, r.prompt())).toBeGreaterThanOrEqual(2548);
    }
  });

  it('no-reuse: distinct 1024-token prompts with 256-token answers', () => {
    const w = noReuse.build({ seed: 1, maxRequests: 200 });
    const prompts = w.requests.map((r) => r.prompt());
    expect(new Set(prompts.map((p) => p.slice(0, 16).join(','))).size).toBe(200);
    expect(prompts.every((p) => p.length === 1024)).toBe(true);
    expect(w.requests.every((r) => r.outputTokenIds.length === 256)).toBe(true);
  });

  it('sibling-bursts: 16 problems × 4 identical samples at one instant, every 10 s', () => {
    const w = siblingBursts.build({ seed: 1 });
    expect(w.requests).toHaveLength(SIBLING_SHAPE.bursts * 16 * 4);
    const times = [...new Set(w.requests.map((r) => r.arrivalS))];
    expect(times).toEqual([0, 10, 20, 30, 40, 50]);
    const burst0 = w.requests.filter((r) => r.arrivalS === 0).map((r) => r.prompt().join(','));
    expect(new Set(burst0).size).toBe(16);
    const burst1 = w.requests.filter((r) => r.arrivalS === 10).map((r) => r.prompt().join(','));
    expect(burst1.some((p) => burst0.includes(p))).toBe(false);
  });

  it('churn: kills one pod and restores it, at times that scale with --duration', () => {
    const w = churn.build({ seed: 1 });
    expect(w.fleetEvents).toEqual([
      { atS: 60, action: 'kill', pod: 7 },
      { atS: 120, action: 'restore', pod: 7 },
    ]);
    const short = churn.build({ seed: 1, durationS: 18, pods: 4 });
    expect(short.fleetEvents).toEqual([
      { atS: 6, action: 'kill', pod: 3 },
      { atS: 12, action: 'restore', pod: 3 },
    ]);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const a = sglangGsp.build({ seed: 5, maxRequests: 3 }).requests.map((r) => r.prompt());
    const b = sglangGsp.build({ seed: 5, maxRequests: 3 }).requests.map((r) => r.prompt());
    const c = sglangGsp.build({ seed: 6, maxRequests: 3 }).requests.map((r) => r.prompt());
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('derives unrelated token streams for nearby seeds and labels', () => {
    const firsts = new Set<number>();
    for (let seed = 0; seed < 200; seed++) {
      firsts.add(streamFor(seed, 'system', 0).next());
      firsts.add(streamFor(seed, 'system', 1).next());
    }
    expect(firsts.size).toBe(400);
  });
});
