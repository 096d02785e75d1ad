/**
 * Token-level request features for precise prefix routing: the prompt rendered and tokenized as
 * vLLM would (tokenization workers), and its block keys. Models without a configured tokenizer
 * fall back to the approximate path, and the decision trace says so.
 */
import type { EdgeRequest } from '../edge/edge-request.ts';
import type { ChatMessage, ChatTemplateOptions } from '../tokenization/types.ts';
import type { TokenizationPool } from '../workers/tokenization-pool.ts';
import type { TokenizeTask } from '../workers/tokenize-task-protocol.ts';
import type { FeatureSource } from './scheduler-routing-service.ts';
import type { PromptFeatures } from './scheduling-request.ts';

export interface TokenFeatureOptions {
  readonly pool: TokenizationPool;
  /** Served model name → tokenizer (built-in name such as `llama3_1`, or a directory). */
  readonly tokenizers: Readonly<Record<string, string>>;
  /** LoRA adapter name → base model, for adapters whose base has a tokenizer. */
  readonly loraBase?: Readonly<Record<string, string>>;
  /** Block size of the index's request keys. */
  readonly blockSize: number;
}

export class TokenFeatureSource implements FeatureSource {
  constructor(private readonly opts: TokenFeatureOptions) {}

  async features(req: EdgeRequest): Promise<PromptFeatures & { note?: string }> {
    const base = this.opts.loraBase?.[req.model] ?? req.model;
    const tokenizer = this.opts.tokenizers[base];
    if (!tokenizer)
      return { note: `no tokenizer configured for model ${req.model}: approximate prefix path` };
    const body = req.body;
    const salt = typeof body['cache_salt'] === 'string' ? body['cache_salt'] : null;
    // The root names the served model, or the adapter for LoRA requests, as ingestion does.
    const blockKeys = { blockSize: this.opts.blockSize, modelName: req.model, salt };
    let task: TokenizeTask;
    if (req.api === 'chat' && Array.isArray(body['messages'])) {
      task = {
        kind: 'chat',
        model: tokenizer,
        messages: body['messages'] as ChatMessage[],
        options: chatOptions(body),
        blockKeys,
      };
    } else if (req.api === 'completions' && body['prompt'] !== undefined) {
      task = { kind: 'completion', model: tokenizer, prompt: body['prompt'] as never, blockKeys };
    } else {
      return { note: `${req.api} requests have no token-level prompt: approximate prefix path` };
    }
    try {
      const result = await this.opts.pool.run(task);
      const ids = result.tokenIds[0];
      const keys = result.blockKeys?.[0];
      if (!ids || !keys) return { note: 'tokenizer returned no prompt' };
      return { tokenIds: Array.from(ids), blockKeys: Array.from(keys) };
    } catch (err) {
      // A prompt the template rejects still routes; vLLM will answer the client's error itself.
      return { note: `tokenization failed (${(err as Error).message}): approximate prefix path` };
    }
  }
}

function chatOptions(body: Readonly<Record<string, unknown>>): ChatTemplateOptions {
  const kwargs = body['chat_template_kwargs'];
  return {
    addGenerationPrompt: body['add_generation_prompt'] !== false && body['continue_final_message'] !== true,
    continueFinalMessage: body['continue_final_message'] === true,
    tools: Array.isArray(body['tools']) ? body['tools'] : null,
    documents: Array.isArray(body['documents']) ? body['documents'] : null,
    ...(kwargs && typeof kwargs === 'object'
      ? { chatTemplateKwargs: kwargs as Record<string, unknown> }
      : {}),
  };
}
