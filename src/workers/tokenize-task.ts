/**
 * The tokenization worker (a piscina task module): per task, renders and tokenizes one chat or
 * completions request and optionally computes its block keys. Models are loaded once per worker
 * and each model gets a segment cache that lives as long as the worker.
 */
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { blockKeyRoot, computeBlockKeys } from '../index-store/block-keys.ts';
import { ChatTemplateError, TokenizationInputError } from '../tokenization/errors.ts';
import { loadModelTokenizer } from '../tokenization/model-registry.ts';
import { tokenizeChat, tokenizeCompletion } from '../tokenization/prompt-tokenizer.ts';
import { SegmentCachedTokenizer } from '../tokenization/segment-cached-tokenizer.ts';
import type { ModelTokenizer, TextTokenizer } from '../tokenization/types.ts';
import type {
  TaskReply,
  TokenizeResult,
  TokenizeTask,
  TokenizeWorkerData,
} from './tokenize-task-protocol.ts';

interface LoadedModel {
  readonly model: ModelTokenizer;
  readonly tokenizer: TextTokenizer;
  readonly cache: SegmentCachedTokenizer | undefined;
}

const settings: TokenizeWorkerData = { cacheMaxTokens: 2_000_000, preloadModels: [], ...(workerData ?? {}) };
const models = new Map<string, Promise<LoadedModel>>();

function loadModel(name: string): Promise<LoadedModel> {
  let loaded = models.get(name);
  if (loaded === undefined) {
    loaded = loadModelTokenizer(name, { textGenerator: false }).then((model) => {
      const cache =
        settings.cacheMaxTokens > 0
          ? new SegmentCachedTokenizer(model.tokenizer, { maxTokens: settings.cacheMaxTokens })
          : undefined;
      return { model, tokenizer: cache ?? model.tokenizer, cache };
    });
    loaded.catch(() => models.delete(name));
    models.set(name, loaded);
  }
  return loaded;
}

// Loading takes a second or more per model: start before the first request needs it. A failed
// preload is forgotten and reported by the first task that asks for the model.
for (const name of settings.preloadModels) loadModel(name).catch(() => undefined);

/** Runs one task; never throws (errors come back as data so their kind survives the boundary). */
export default async function tokenizeTask(task: TokenizeTask): Promise<TaskReply> {
  try {
    return transferable(await run(task));
  } catch (error) {
    const kind =
      error instanceof TokenizationInputError
        ? 'TokenizationInputError'
        : error instanceof ChatTemplateError
          ? 'ChatTemplateError'
          : 'Error';
    return { ok: false, error: { kind, message: (error as Error)?.message ?? String(error) } };
  }
}

async function run(task: TokenizeTask): Promise<TokenizeResult> {
  if (typeof task !== 'object' || task === null || typeof task.model !== 'string') {
    throw new TokenizationInputError('task must be an object with a model name');
  }
  const { model, tokenizer, cache } = await loadModel(task.model);
  const before = cache?.stats();
  let prompts: number[][];
  let text: string | undefined;
  if (task.kind === 'chat') {
    const chat = await tokenizeChat(model, task.messages, { ...task.options, tokenizer });
    prompts = [chat.tokenIds];
    if (task.returnText) text = chat.text;
  } else if (task.kind === 'completion') {
    const addSpecialTokens = task.addSpecialTokens ?? model.addSpecialTokensForCompletions;
    prompts = await tokenizeCompletion(model, task.prompt, { tokenizer, addSpecialTokens });
  } else {
    throw new TokenizationInputError(`unknown task kind '${String((task as { kind?: unknown }).kind)}'`);
  }
  const after = cache?.stats();
  const result: TokenizeResult = {
    tokenIds: prompts.map((ids) => Uint32Array.from(ids)),
    cache: {
      hitTokens: (after?.hitTokens ?? 0) - (before?.hitTokens ?? 0),
      missTokens: (after?.missTokens ?? 0) - (before?.missTokens ?? 0),
    },
    ...(text !== undefined ? { text } : {}),
  };
  if (task.blockKeys) {
    const { blockSize, salt, loraName, modelName } = task.blockKeys;
    const root = blockKeyRoot(modelName ?? task.model, loraName, salt);
    return { ...result, blockKeys: result.tokenIds.map((ids) => computeBlockKeys(ids, blockSize, root)) };
  }
  return result;
}

/** Wraps the reply so piscina transfers the typed arrays' buffers instead of copying them. */
function transferable(result: TokenizeResult): TaskReply {
  const reply: TaskReply = { ok: true, result };
  const buffers = [...result.tokenIds, ...(result.blockKeys ?? [])].map((array) => array.buffer);
  return move({
    get [transferableSymbol]() {
      return buffers;
    },
    get [valueSymbol]() {
      return reply;
    },
  }) as unknown as TaskReply;
}
