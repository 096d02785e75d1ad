/**
 * Completions prompts given as token ids carry no text, yet share prefixes like text prompts do:
 * the approximate prefix path must route on the ids (llm-d well-lit config here, no tokenizer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namedConfigs } from '../../src/scheduler/config/defaults.ts';
import { MODEL, postJson, startStack, type Stack } from './support/stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ pods: 3 }, { schedulerConfig: namedConfigs['llm-d-well-lit'] });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

const shared = Array.from({ length: 1500 }, (_, i) => 1000 + ((i * 37) % 20000));
const prompt = (i: number) => [...shared, ...Array.from({ length: 20 }, (_, j) => 30000 + i * 50 + j)];

describe('token-id prompts on the approximate path', () => {
  it('sends prompts sharing a token-id prefix to one pod and matches the prefix there', async () => {
    const endpoints: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await postJson(`${stack.baseUrl}/v1/completions`, {
        model: MODEL,
        prompt: prompt(i),
        max_tokens: 2,
      });
      expect(r.status).toBe(200);
      endpoints.push(r.headers.get('x-kvedge-endpoint') ?? '');
    }
    expect(new Set(endpoints).size).toBe(1);
    const r = await postJson(`${stack.adminUrl}/debug/route`, {
      model: MODEL,
      prompt: [prompt(99)],
      max_tokens: 2,
    });
    const explained = r.body as {
      endpointId: string;
      promptTokenEstimate: number;
      trace: {
        producers: {
          producer: string;
          summary: { totalBlocks: number; matchedBlocks: Record<string, number> };
        }[];
      };
    };
    expect(explained.endpointId).toBe(endpoints[0]);
    expect(explained.promptTokenEstimate).toBe(1520);
    const approx = explained.trace.producers.find((p) => p.producer === 'approx-prefix-cache-producer')!;
    expect(approx.summary.matchedBlocks[endpoints[0]!]).toBeGreaterThan(approx.summary.totalBlocks * 0.9);
  });
});
