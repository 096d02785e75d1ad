/**
 * The parts of a HF model directory's `tokenizer_config.json` (and `chat_template.jinja` /
 * `chat_template.json`) that rendering and tokenization depend on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** A special token in tokenizer_config.json: a string or an AddedToken dict. */
const tokenValue = z.union([z.string(), z.looseObject({ content: z.string() })]);

const namedTemplate = z.object({ name: z.string(), template: z.string() });

const configSchema = z.looseObject({
  chat_template: z.union([z.string(), z.array(namedTemplate)]).nullish(),
  bos_token: tokenValue.nullish(),
  eos_token: tokenValue.nullish(),
  unk_token: tokenValue.nullish(),
  sep_token: tokenValue.nullish(),
  pad_token: tokenValue.nullish(),
  cls_token: tokenValue.nullish(),
  mask_token: tokenValue.nullish(),
  additional_special_tokens: z.array(tokenValue).nullish(),
  add_bos_token: z.boolean().nullish(),
  add_eos_token: z.boolean().nullish(),
});

/** Chat templates by name; a single template is named "default" (as transformers does). */
export type ChatTemplateSources = Readonly<Record<string, string>>;

export interface TokenizerConfig {
  /** Undefined when the model ships no chat template. */
  readonly chatTemplates: ChatTemplateSources | undefined;
  /**
   * transformers' `special_tokens_map`: bos_token, eos_token, ... and additional_special_tokens,
   * only those that are set. Every template render receives these as variables.
   */
  readonly specialTokens: Readonly<Record<string, string | readonly string[]>>;
  readonly addBosToken: boolean | undefined;
  readonly addEosToken: boolean | undefined;
}

const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

/** Reads the tokenizer config of a model directory; a missing file means an empty config. */
export function readTokenizerConfig(directory: string): TokenizerConfig {
  const path = join(directory, 'tokenizer_config.json');
  const raw = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  const config = configSchema.parse(raw);
  const specialTokens: Record<string, string | readonly string[]> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const value = config[key];
    if (value != null) specialTokens[key] = tokenContent(value);
  }
  if (config.additional_special_tokens?.length) {
    specialTokens.additional_special_tokens = config.additional_special_tokens.map(tokenContent);
  }
  return {
    chatTemplates: chatTemplates(directory, config.chat_template),
    specialTokens,
    addBosToken: config.add_bos_token ?? undefined,
    addEosToken: config.add_eos_token ?? undefined,
  };
}

function tokenContent(value: z.infer<typeof tokenValue>): string {
  return typeof value === 'string' ? value : value.content;
}

/** transformers' precedence: chat_template.jinja, then chat_template.json, then tokenizer_config. */
function chatTemplates(
  directory: string,
  fromConfig: string | z.infer<typeof namedTemplate>[] | null | undefined,
): ChatTemplateSources | undefined {
  const jinjaPath = join(directory, 'chat_template.jinja');
  if (existsSync(jinjaPath)) return { default: readFileSync(jinjaPath, 'utf8') };
  const jsonPath = join(directory, 'chat_template.json');
  if (existsSync(jsonPath)) {
    const parsed = z.object({ chat_template: z.string() }).parse(JSON.parse(readFileSync(jsonPath, 'utf8')));
    return { default: parsed.chat_template };
  }
  if (fromConfig == null) return undefined;
  if (typeof fromConfig === 'string') return { default: fromConfig };
  return Object.fromEntries(fromConfig.map((t) => [t.name, t.template]));
}
