/**
 * The pod's view of tokenization: renders and tokenizes requests as vLLM would for the served
 * model, and chooses output tokens that round-trip through the tokenizer (so the next turn of a
 * conversation, which sends the answer back as text, hits the answer's cached blocks).
 */
import { loadModelTokenizer } from '../../tokenization/model-registry.ts';
import { createTextGenerator, type TextGenerator } from '../../tokenization/text-generator.ts';
import type { ModelTokenizer } from '../../tokenization/types.ts';
import type { ChatCompletionRequest, CompletionRequest } from './request-schema.ts';

export interface PodTokenizer {
  tokenizeChat(r: ChatCompletionRequest): Promise<number[]>;
  /** One token list per prompt. */
  tokenizeCompletion(prompt: CompletionRequest['prompt']): Promise<number[][]>;
  /** Deterministic output tokens for a prompt (same prompt, same answer). */
  outputTokens(promptTokenIds: readonly number[], count: number): number[];
  decodeToken(id: number): string;
}

export async function loadPodTokenizer(nameOrDir: string): Promise<PodTokenizer> {
  const model = await loadModelTokenizer(nameOrDir);
  return new ModelPodTokenizer(model, createTextGenerator(model.tokenizer));
}

class ModelPodTokenizer implements PodTokenizer {
  private readonly decoded = new Map<number, string>();

  constructor(
    private readonly model: ModelTokenizer,
    private readonly generator: TextGenerator,
  ) {}

  async tokenizeChat(r: ChatCompletionRequest): Promise<number[]> {
    const text = this.model.chatTemplate.render(r.messages, {
      addGenerationPrompt: r.add_generation_prompt ?? !r.continue_final_message,
      continueFinalMessage: r.continue_final_message ?? false,
      tools: r.tools ?? null,
      documents: r.documents ?? null,
      chatTemplateKwargs: r.chat_template_kwargs ?? {},
    });
    // The template already carries BOS; vLLM tokenizes rendered chat prompts without special tokens.
    return this.model.tokenizer.encode(text, false);
  }

  async tokenizeCompletion(prompt: CompletionRequest['prompt']): Promise<number[][]> {
    if (typeof prompt === 'string') return [await this.encodeCompletion(prompt)];
    if (prompt.length > 0 && typeof prompt[0] === 'number') return [prompt as number[]];
    if (prompt.length > 0 && Array.isArray(prompt[0])) return prompt as number[][];
    return Promise.all((prompt as string[]).map((p) => this.encodeCompletion(p)));
  }

  outputTokens(promptTokenIds: readonly number[], count: number): number[] {
    return this.generator.generate(promptSeed(promptTokenIds), count);
  }

  decodeToken(id: number): string {
    let text = this.decoded.get(id);
    if (text === undefined) {
      text = this.model.tokenizer.decode([id]);
      this.decoded.set(id, text);
    }
    return text;
  }

  private encodeCompletion(text: string): Promise<number[]> {
    return this.model.tokenizer.encode(text, this.model.addSpecialTokensForCompletions);
  }
}

/** FNV-1a over the prompt's length and tokens: a stable per-prompt seed. */
function promptSeed(tokens: readonly number[]): number {
  let h = 0x811c9dc5 ^ tokens.length;
  for (let i = 0; i < tokens.length; i++) {
    h ^= tokens[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
