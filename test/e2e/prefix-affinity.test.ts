/**
 * Prefix affinity under llm-d's well-lit config and under the default (kvedge) config: requests
 * sharing a long system prompt with different questions stick to the pod that served the prefix
 * first, that pod reports engine prefix-cache hits, and POST /debug/route on the admin port explains
 * why (well-lit: per candidate every scorer's raw score, weight, contribution and total; kvedge:
 * every candidate's cached tokens and predicted cost).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedConfigs } from '../../src/scheduler/config/defaults.ts';
import { MODEL, longSystemPrompt, postJson, startStack, type Stack } from './support/stack.ts';

interface ScoreTrace {
  scorer: string;
  type: string;
  raw: number | null;
  clamped: number;
  weight: number;
  contribution: number;
}
interface CandidateTrace {
  endpointId: string;
  droppedBy: string | null;
  scores: ScoreTrace[];
  total: number | null;
  pickRank: number | null;
}
interface RouteExplanation {
  endpointId: string;
  prefixPath: string;
  admission: { admitted: boolean };
  trace: {
    producers: {
      producer: string;
      summary: { totalBlocks: number; matchedBlocks: Record<string, number> };
    }[];
    profiles: { profile: string; status: string; picked: string[]; candidates: CandidateTrace[] }[];
    result: { endpointId: string; primaryProfile: string };
  };
}
interface ChatResult {
  usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
}

let stack: Stack;
const SYSTEM = longSystemPrompt(1400, 'affinity');
const question = (i: number) => ({
  model: MODEL,
  messages: [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: `Question ${i}: what is ${i} times ${i + 3}?` },
  ],
  max_tokens: 4,
});

beforeAll(async () => {
  stack = await startStack({ pods: 3 }, { schedulerConfig: namedConfigs['llm-d-well-lit'] });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

describe('prefix affinity (llm-d-well-lit)', () => {
  let servedBy = '';

  it('sends every request sharing the long prefix to the same pod, which reports cache hits', async () => {
    const endpoints: string[] = [];
    const cached: number[] = [];
    let promptTokens = 0;
    for (let i = 0; i < 6; i++) {
      const r = await postJson(`${stack.baseUrl}/v1/chat/completions`, question(i));
      expect(r.status).toBe(200);
      endpoints.push(r.headers.get('x-kvedge-endpoint') ?? '');
      const usage = (r.body as ChatResult).usage;
      promptTokens = usage.prompt_tokens;
      cached.push(usage.prompt_tokens_details.cached_tokens);
    }
    expect(promptTokens).toBeGreaterThan(3_000);
    expect(new Set(endpoints).size).toBe(1);
    servedBy = endpoints[0]!;
    expect(stack.pods.map((p) => p.address)).toContain(servedBy);
    // The engine of that pod computed the prefix once: later requests hit its prefix cache.
    expect(cached[0]).toBe(0);
    for (const hit of cached.slice(1)) expect(hit).toBeGreaterThan(3_000);
  });

  it('explains the choice on POST /debug/route: prefix scorer favours the pod that served the prefix', async () => {
    expect(servedBy).not.toBe('');
    const r = await postJson(`${stack.adminUrl}/debug/route`, question(99));
    expect(r.status).toBe(200);
    const explained = r.body as RouteExplanation;
    expect(explained.endpointId).toBe(servedBy);
    expect(explained.prefixPath).toBe('approximate');
    expect(explained.admission.admitted).toBe(true);
    expect(explained.trace.result).toMatchObject({ endpointId: servedBy, primaryProfile: 'default' });

    const producer = explained.trace.producers.find((p) => p.producer === 'approx-prefix-cache-producer');
    expect(Object.keys(producer!.summary.matchedBlocks)).toEqual([servedBy]);
    expect(producer!.summary.matchedBlocks[servedBy]).toBeGreaterThan(producer!.summary.totalBlocks * 0.9);

    expect(explained.trace.profiles).toHaveLength(1);
    const profile = explained.trace.profiles[0]!;
    expect(profile.profile).toBe('default');
    expect(profile.status).toBe('picked');
    expect(profile.picked).toEqual([servedBy]);
    // Every pod is a candidate, each with the three default scorers at llm-d's weights.
    expect(profile.candidates.map((c) => c.endpointId).sort()).toEqual(
      stack.pods.map((p) => p.address).sort(),
    );
    const weights = { 'queue-scorer': 2, 'kv-cache-utilization-scorer': 2, 'prefix-cache-scorer': 3 };
    for (const candidate of profile.candidates) {
      expect(candidate.droppedBy).toBeNull();
      expect(Object.fromEntries(candidate.scores.map((s) => [s.scorer, s.weight]))).toEqual(weights);
      let sum = 0;
      for (const s of candidate.scores) {
        expect(s.raw).not.toBeNull();
        expect(s.contribution).toBeCloseTo(s.clamped * s.weight, 9);
        sum += s.contribution;
      }
      expect(candidate.total).toBeCloseTo(sum, 9);
    }
    const prefixOf = (c: CandidateTrace) => c.scores.find((s) => s.scorer === 'prefix-cache-scorer')!.raw!;
    const chosen = profile.candidates.find((c) => c.endpointId === servedBy)!;
    expect(chosen.pickRank).toBe(1);
    expect(prefixOf(chosen)).toBeGreaterThan(0.9);
    for (const other of profile.candidates.filter((c) => c !== chosen)) {
      expect(prefixOf(other)).toBe(0);
      expect(other.total!).toBeLessThan(chosen.total!);
      expect(other.pickRank).toBeNull();
    }
  });

  it('does not dispatch when explaining: /debug/route leaves the engines untouched', async () => {
    const before = stack.pods.map((p) => p.engineStats);
    await postJson(`${stack.adminUrl}/debug/route`, question(100));
    const after = stack.pods.map((p) => p.engineStats);
    expect(after).toEqual(before);
  });
});

describe('prefix affinity (default config: kvedge)', () => {
  let kvedge: Stack;
  beforeAll(async () => {
    kvedge = await startStack({ pods: 3 });
  }, 30_000);
  afterAll(async () => {
    await kvedge?.stop();
  });

  it('keeps the prefix on one pod and explains the pick with each candidate’s cached tokens and cost', async () => {
    const endpoints: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await postJson(`${kvedge.baseUrl}/v1/chat/completions`, question(i));
      expect(r.status).toBe(200);
      endpoints.push(r.headers.get('x-kvedge-endpoint') ?? '');
    }
    expect(new Set(endpoints).size).toBe(1);
    const holder = endpoints[0]!;
    const r = await postJson(`${kvedge.adminUrl}/debug/route`, question(99));
    const explained = r.body as {
      endpointId: string;
      pluginState: Record<
        string,
        { costs?: { endpointId: string; cachedTokens: number; prediction: { costSeconds: number } }[] }
      >;
    };
    expect(explained.endpointId).toBe(holder);
    const costs = explained.pluginState['kvedge-picker']!.costs!;
    expect(costs.map((c) => c.endpointId).sort()).toEqual(kvedge.pods.map((p) => p.address).sort());
    const held = costs.find((c) => c.endpointId === holder)!;
    expect(held.cachedTokens).toBeGreaterThan(3_000);
    for (const other of costs.filter((c) => c !== held)) {
      expect(other.cachedTokens).toBe(0);
      expect(other.prediction.costSeconds).toBeGreaterThan(held.prediction.costSeconds);
    }
  });
});
