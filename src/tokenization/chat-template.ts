/**
 * A model's Jinja chat template rendered as vLLM renders it: vLLM's message parsing and
 * `chat_template_kwargs` filtering in front of transformers' `apply_chat_template` semantics
 * (special tokens and kwargs as variables, `raise_exception` / `strftime_now` helpers, the
 * `continue_final_message` cut), evaluated by @huggingface/jinja with Python string methods.
 */
import { Template } from '@huggingface/jinja';
import {
  convertDeveloperMessages,
  normalizeTools,
  parseChatMessages,
  templateSupportsDeveloperRole,
  type ContentFormat,
  type ConversationMessage,
} from './chat-messages.ts';
import { ChatTemplateError, TokenizationInputError } from './errors.ts';
import {
  detectContentFormat,
  REWRITTEN_FUNCTIONS,
  rewriteForTransformersSemantics,
  undeclaredVariables,
} from './jinja-ast.ts';
import { pythonStrip } from './python-strip.ts';
import { pythonStrftime } from './python-strftime.ts';
import type { ChatTemplateSources } from './tokenizer-config.ts';
import type { ChatMessage, ChatTemplateOptions, ChatTemplateRenderer } from './types.ts';

/**
 * `apply_chat_template`'s own parameters. vLLM lets kwargs with these names through its filter;
 * transformers consumes them instead of passing them to the template (except the four the
 * template always receives: messages/tools/documents/add_generation_prompt).
 */
const HF_APPLY_CHAT_TEMPLATE_PARAMS = new Set([
  'conversation',
  'tools',
  'documents',
  'chat_template',
  'add_generation_prompt',
  'continue_final_message',
  'tokenize',
  'padding',
  'truncation',
  'max_length',
  'return_tensors',
  'return_dict',
  'return_assistant_tokens_mask',
  'tokenizer_kwargs',
]);

/** Kwargs vLLM refuses outright. */
const REJECTED_KWARGS = ['chat_template', 'tokenize'];

export interface JinjaChatTemplateOptions {
  /** transformers' `special_tokens_map` (bos_token, eos_token, ...), passed to every render. */
  readonly specialTokens?: Readonly<Record<string, string | readonly string[]>>;
  /** vLLM `--chat-template-content-format`; "auto" (default) detects it from the template. */
  readonly contentFormat?: 'auto' | ContentFormat;
  /** Time source for `strftime_now` (default: the wall clock). */
  readonly clock?: () => Date;
}

/** One compiled template with what vLLM derives from its source. */
interface CompiledTemplate {
  readonly source: string;
  readonly template: Template;
  readonly variables: ReadonlySet<string>;
  readonly contentFormat: ContentFormat;
  readonly supportsDeveloperRole: boolean;
}

/** Renders a HF chat template (one source, or named sources with "default" and "tool_use"). */
export class JinjaChatTemplate implements ChatTemplateRenderer {
  readonly #templates = new Map<string, CompiledTemplate>();
  readonly #specialTokens: Readonly<Record<string, string | readonly string[]>>;
  readonly #clock: () => Date;
  readonly #helpers: Record<string, (...args: never[]) => unknown>;

  /**
   * @throws ChatTemplateError when a template does not parse.
   */
  constructor(sources: string | ChatTemplateSources, options: JinjaChatTemplateOptions = {}) {
    const named = typeof sources === 'string' ? { default: sources } : sources;
    if (named.default === undefined && Object.keys(named).length !== 1) {
      throw new ChatTemplateError('named chat templates need a "default" template');
    }
    for (const [name, source] of Object.entries(named)) {
      this.#templates.set(name, compile(source, options.contentFormat ?? 'auto'));
    }
    this.#specialTokens = options.specialTokens ?? {};
    this.#clock = options.clock ?? (() => new Date());
    this.#helpers = {
      [REWRITTEN_FUNCTIONS.raise_exception]: (message: unknown) => {
        throw new ChatTemplateError(String(message));
      },
      [REWRITTEN_FUNCTIONS.strftime_now]: (format: unknown) => pythonStrftime(this.#clock(), String(format)),
      [REWRITTEN_FUNCTIONS.strip]: (value: unknown, chars?: unknown) => strip(value, chars, 'both'),
      [REWRITTEN_FUNCTIONS.lstrip]: (value: unknown, chars?: unknown) => strip(value, chars, 'left'),
      [REWRITTEN_FUNCTIONS.rstrip]: (value: unknown, chars?: unknown) => strip(value, chars, 'right'),
    };
  }

  /** The content format of the default template ("string" for Qwen3 and Llama 3.1). */
  get contentFormat(): ContentFormat {
    return this.#select(null).contentFormat;
  }

  /**
   * Renders `messages` to prompt text.
   *
   * @throws TokenizationInputError for bad messages or conflicting options.
   * @throws ChatTemplateError when the template fails or calls `raise_exception`.
   */
  render(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const addGenerationPrompt = options.addGenerationPrompt ?? true;
    const continueFinalMessage = options.continueFinalMessage ?? false;
    if (addGenerationPrompt && continueFinalMessage) {
      throw new TokenizationInputError(
        'Cannot set both `continue_final_message` and `add_generation_prompt` to True.',
      );
    }
    const tools = normalizeTools(options.tools);
    const compiled = this.#select(tools);
    let conversation = parseChatMessages(messages, compiled.contentFormat);
    if (!compiled.supportsDeveloperRole) conversation = convertDeveloperMessages(conversation);
    const kwargs = this.#templateKwargs(compiled, options);
    const documents = (options.documents ?? kwargs.documents ?? null) as unknown;
    for (const name of HF_APPLY_CHAT_TEMPLATE_PARAMS) delete kwargs[name];

    let rendered: string;
    try {
      rendered = compiled.template.render({
        ...this.#specialTokens,
        ...kwargs,
        messages: conversation,
        tools,
        documents,
        add_generation_prompt: addGenerationPrompt,
        ...this.#helpers,
      });
    } catch (error) {
      if (error instanceof ChatTemplateError) throw error;
      throw new ChatTemplateError(`chat template failed: ${(error as Error).message}`, { cause: error });
    }
    return continueFinalMessage ? cutAfterFinalMessage(rendered, conversation) : rendered;
  }

  /** transformers: the "tool_use" template when tools are given and it exists, else "default". */
  #select(tools: unknown[] | null): CompiledTemplate {
    if (tools !== null) {
      const toolUse = this.#templates.get('tool_use');
      if (toolUse) return toolUse;
    }
    return this.#templates.get('default') ?? this.#templates.values().next().value!;
  }

  /**
   * vLLM's `chat_template_kwargs` handling: request fields override same-named kwargs (unless
   * unset), then only kwargs the template reads or `apply_chat_template` accepts survive.
   */
  #templateKwargs(compiled: CompiledTemplate, options: ChatTemplateOptions): Record<string, unknown> {
    const requested = options.chatTemplateKwargs ?? {};
    const rejected = REJECTED_KWARGS.filter((name) => name in requested);
    if (rejected.length > 0) {
      throw new TokenizationInputError(
        `Found unexpected chat template kwargs from request: ${rejected.join(', ')}`,
      );
    }
    const merged: Record<string, unknown> = { ...requested };
    if (options.reasoningEffort != null) merged.reasoning_effort = options.reasoningEffort;
    const kwargs: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(merged)) {
      if (compiled.variables.has(name) || HF_APPLY_CHAT_TEMPLATE_PARAMS.has(name)) kwargs[name] = value;
    }
    return kwargs;
  }
}

function compile(source: string, contentFormat: 'auto' | ContentFormat): CompiledTemplate {
  let template: Template;
  try {
    template = new Template(source);
  } catch (error) {
    throw new ChatTemplateError(`chat template does not parse: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // Analyse before rewriting: the rewrite introduces helper identifiers.
  const program = template.parsed as unknown as Parameters<typeof undeclaredVariables>[0];
  const variables = undeclaredVariables(program);
  const detected = detectContentFormat(program);
  rewriteForTransformersSemantics(program);
  return {
    source,
    template,
    variables,
    contentFormat: contentFormat === 'auto' ? detected : contentFormat,
    supportsDeveloperRole: templateSupportsDeveloperRole(source),
  };
}

function strip(value: unknown, chars: unknown, side: 'both' | 'left' | 'right'): string {
  if (typeof value !== 'string') {
    throw new ChatTemplateError(
      `strip() called on a ${value === undefined ? 'undefined value' : typeof value}`,
    );
  }
  if (chars !== undefined && chars !== null && typeof chars !== 'string') {
    throw new ChatTemplateError('strip arg must be None or str');
  }
  return pythonStrip(value, chars, side);
}

/**
 * transformers' `continue_final_message`: cut the rendered text right after the final message's
 * content, so generation continues it. If the template trimmed the message's trailing
 * whitespace, cut after the stripped content instead.
 */
function cutAfterFinalMessage(rendered: string, conversation: readonly ConversationMessage[]): string {
  const final = conversation.at(-1);
  if (final === undefined)
    throw new TokenizationInputError('continue_final_message needs at least one message');
  let content: string;
  if (Array.isArray(final.content)) {
    const lastText = final.content.findLast((part) => typeof part.text === 'string');
    if (lastText === undefined) {
      throw new TokenizationInputError(
        'continue_final_message is set but the final message has no text to continue',
      );
    }
    content = lastText.text;
  } else {
    content = final.content;
  }
  const stripped = pythonStrip(content, null, 'both');
  const at = rendered.lastIndexOf(stripped);
  if (at < 0) {
    throw new TokenizationInputError(
      'continue_final_message is set but the final message does not appear in the rendered chat template',
    );
  }
  const leftStripped = pythonStrip(content, null, 'left');
  if (rendered.slice(at, at + leftStripped.length) === content)
    return rendered.slice(0, at + leftStripped.length);
  return rendered.slice(0, at + stripped.length);
}
