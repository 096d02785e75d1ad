/**
 * Tokenization throughput on a multi-turn chat workload: N conversations x T turns sharing one
 * long system prompt, each request the whole conversation so far (what a router tokenizes).
 * Compares plain tokenization with the segment cache (both keyings), and prints a table.
 *
 *   npx tsx scripts/measure-tokenization.ts [--model qwen3] [--conversations 50] [--turns 8]
 *     [--system-tokens 2000] [--pool]
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { blockKeyRoot, computeBlockKeys } from '../src/index-store/block-keys.ts';
import { loadModelTokenizer } from '../src/tokenization/model-registry.ts';
import { SegmentCachedTokenizer, type SegmentKeying } from '../src/tokenization/segment-cached-tokenizer.ts';
import { SyntheticTokenizer } from '../src/tokenization/synthetic-tokenizer.ts';
import { createTextGenerator } from '../src/tokenization/text-generator.ts';
import type { ChatMessage, ModelTokenizer, TextTokenizer } from '../src/tokenization/types.ts';
import { TokenizationPool } from '../src/workers/tokenization-pool.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'qwen3' },
    conversations: { type: 'string', default: '50' },
    turns: { type: 'string', default: '8' },
    'system-tokens': { type: 'string', default: '2000' },
    pool: { type: 'boolean', default: false },
  },
});
const conversations = Number(args.conversations);
const turns = Number(args.turns);
const systemTokens = Number(args['system-tokens']);

interface Row {
  readonly mode: string;
  readonly requests: number;
  readonly tokens: number;
  readonly seconds: number;
  readonly hitRatio?: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Rendered prompts in arrival order: turn 1 of every conversation, then turn 2, ... */
function buildWorkload(model: ModelTokenizer): string[] {
  const generator = createTextGenerator(model.tokenizer);
  const words = (seed: number, n: number): string => model.tokenizer.decode(generator.generate(seed, n));
  const system: ChatMessage = { role: 'system', content: words(1, systemTokens) };
  const histories: ChatMessage[][] = Array.from({ length: conversations }, () => [system]);
  const prompts: string[] = [];
  for (let turn = 0; turn < turns; turn++) {
    histories.forEach((history, c) => {
      history.push({ role: 'user', content: words(1000 + c * 100 + turn, 60) });
      prompts.push(model.chatTemplate.render(history));
      history.push({ role: 'assistant', content: words(500_000 + c * 100 + turn, 150) });
    });
  }
  return prompts;
}

async function measure(
  mode: string,
  prompts: string[],
  tokenizer: TextTokenizer,
  hitRatio?: () => number,
): Promise<Row> {
  const latencies: number[] = [];
  let tokens = 0;
  const start = performance.now();
  for (const prompt of prompts) {
    const t0 = performance.now();
    tokens += (await tokenizer.encode(prompt)).length;
    latencies.push(performance.now() - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    mode,
    requests: prompts.length,
    tokens,
    seconds,
    hitRatio: hitRatio?.(),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

function cached(
  tokenizer: TextTokenizer,
  keying: SegmentKeying,
): { tokenizer: SegmentCachedTokenizer; hitRatio: () => number } {
  const cache = new SegmentCachedTokenizer(tokenizer, { keying });
  return {
    tokenizer: cache,
    hitRatio: () => {
      const s = cache.stats();
      return s.hitTokens / (s.hitTokens + s.missTokens);
    },
  };
}

async function measurePool(name: string, prompts: string[]): Promise<Row> {
  // The pool renders too; feed it the prompt as a completion without special tokens so the work
  // matches the in-process rows (tokenize + segment cache), plus block keys and the thread hop.
  const pool = new TokenizationPool();
  await pool.run({ kind: 'completion', model: name, prompt: 'warm up' });
  const latencies: number[] = [];
  let tokens = 0;
  const start = performance.now();
  await Promise.all(
    prompts.map(async (prompt) => {
      const t0 = performance.now();
      const result = await pool.run({
        kind: 'completion',
        model: name,
        prompt,
        addSpecialTokens: false,
        blockKeys: { blockSize: 16 },
      });
      tokens += result.tokenIds[0]!.length;
      latencies.push(performance.now() - t0);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const stats = pool.cacheStats();
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    mode: `pool (${pool.threads} thread${pool.threads > 1 ? 's' : ''}), cached + block keys`,
    requests: prompts.length,
    tokens,
    seconds,
    hitRatio: stats.hitTokens / (stats.hitTokens + stats.missTokens),
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
  };
}

function printTable(title: string, rows: Row[]): void {
  console.log(`\n${title}\n`);
  console.log('| mode | requests | prompt tokens | seconds | tokens/s | token hit ratio | p50 ms | p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const tps = Math.round(r.tokens / r.seconds).toLocaleString('en-US');
    const hit = r.hitRatio === undefined ? '-' : `${(100 * r.hitRatio).toFixed(1)}%`;
    console.log(
      `| ${r.mode} | ${r.requests} | ${r.tokens.toLocaleString('en-US')} | ${r.seconds.toFixed(2)} | ${tps} | ${hit} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} |`,
    );
  }
}

async function main(): Promise<void> {
  let t0 = performance.now();
  const model = await loadModelTokenizer(args.model!, { textGenerator: false });
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  await loadModelTokenizer(args.model!);
  const generatorMs = performance.now() - t0;

  t0 = performance.now();
  const prompts = buildWorkload(model);
  const renderSeconds = (performance.now() - t0) / 1000;

  // Warm up the JIT, the native tokenizer and the cache code on a throwaway cache.
  const warm = new SegmentCachedTokenizer(model.tokenizer);
  for (const prompt of prompts.slice(0, 60)) await warm.encode(prompt.slice(7));

  const rows: Row[] = [await measure('cold (no cache)', prompts, model.tokenizer)];
  for (const keying of ['content', 'chain'] as const) {
    const c = cached(model.tokenizer, keying);
    rows.push(await measure(`segment cache, ${keying} keys`, prompts, c.tokenizer, c.hitRatio));
  }
  if (args.pool) rows.push(await measurePool(args.model!, prompts));

  const totalTokens = rows[0]!.tokens;
  printTable(
    `${args.model}: ${conversations} conversations x ${turns} turns, ${systemTokens}-token shared system prompt ` +
      `(${availableParallelism()} cores)`,
    rows,
  );
  console.log(
    `\nchat template rendering of all ${prompts.length} prompts: ${renderSeconds.toFixed(2)} s ` +
      `(${Math.round(totalTokens / renderSeconds).toLocaleString('en-US')} prompt tokens/s)`,
  );
  console.log(
    `model load: ${loadMs.toFixed(0)} ms; text generator preparation: ${generatorMs.toFixed(0)} ms`,
  );

  // Block keys on the whole workload (16-token blocks).
  const ids = await Promise.all(prompts.map((p) => model.tokenizer.encode(p)));
  const root = blockKeyRoot(args.model!);
  t0 = performance.now();
  let blocks = 0;
  for (const prompt of ids) blocks += computeBlockKeys(prompt, 16, root).length;
  const keySeconds = (performance.now() - t0) / 1000;
  console.log(
    `block keys: ${blocks.toLocaleString('en-US')} blocks in ${keySeconds.toFixed(3)} s ` +
      `(${Math.round(totalTokens / keySeconds).toLocaleString('en-US')} tokens/s)`,
  );

  // The synthetic tokenizer on the same text.
  const synthetic = new SyntheticTokenizer();
  const text = prompts.join('');
  synthetic.encodeSync(text.slice(0, 100_000));
  t0 = performance.now();
  const syntheticTokens = synthetic.encodeSync(text).length;
  const syntheticSeconds = (performance.now() - t0) / 1000;
  console.log(
    `synthetic tokenizer: ${syntheticTokens.toLocaleString('en-US')} tokens from ${(text.length / 1e6).toFixed(1)} M chars ` +
      `in ${syntheticSeconds.toFixed(2)} s (${Math.round(syntheticTokens / syntheticSeconds).toLocaleString('en-US')} tokens/s)`,
  );
}

await main();
