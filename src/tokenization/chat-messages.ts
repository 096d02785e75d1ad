/**
 * OpenAI chat messages -> the conversation a chat template sees, as vLLM builds it
 * (vllm/entrypoints/chat_utils.py: `parse_chat_messages`, `_postprocess_messages`,
 * `_convert_developer_to_system`), and request tools -> the dicts vLLM passes as `tools`.
 *
 * Only text is supported: multimodal parts are rejected, since their placeholder tokens depend on
 * the model's processor and image size.
 */
import { TokenizationInputError } from './errors.ts';
import type { ChatMessage } from './types.ts';

/**
 * How content reaches the template. "string": text parts joined with "\n" (vLLM's default for
 * templates that do not iterate over content). "openai": a list of `{type: 'text', text}` parts.
 */
export type ContentFormat = 'string' | 'openai';

/** A message as vLLM hands it to `apply_chat_template`. Plain JSON-compatible data. */
export interface ConversationMessage {
  role: string;
  content: string | TextPartDict[];
  [key: string]: unknown;
}

export interface TextPartDict {
  type: 'text';
  text: string;
}

/** Part types whose text vLLM takes from the given field. */
const TEXT_FIELDS: ReadonlyMap<string, string> = new Map([
  ['text', 'text'],
  ['input_text', 'text'],
  ['output_text', 'text'],
  ['refusal', 'refusal'],
  ['thinking', 'thinking'],
]);

/** vLLM skips these part types (with a warning) when their text is missing. */
const SKIP_WHEN_EMPTY = new Set(['text', 'refusal']);

const MULTIMODAL_KEYS = [
  'image_url',
  'image_pil',
  'image_embeds',
  'audio_embeds',
  'prompt_embeds',
  'audio_url',
  'input_audio',
  'video_url',
  'input_image',
];

/**
 * Converts request messages to the template's conversation exactly as vLLM does for text-only
 * content. Does not mutate `messages`.
 *
 * @throws TokenizationInputError for malformed messages or non-text content.
 */
export function parseChatMessages(
  messages: readonly ChatMessage[],
  format: ContentFormat,
): ConversationMessage[] {
  if (!Array.isArray(messages)) throw new TokenizationInputError('messages must be an array');
  return messages.map((message, index) => parseMessage(message, index, format));
}

function parseMessage(message: ChatMessage, index: number, format: ContentFormat): ConversationMessage {
  if (typeof message !== 'object' || message === null || typeof message.role !== 'string') {
    throw new TokenizationInputError(`messages[${index}] must be an object with a string role`);
  }
  const { role } = message;
  const texts = contentTexts(message.content, index);
  const out: ConversationMessage = {
    role,
    content: format === 'string' ? texts.join('\n') : texts.map((text) => ({ type: 'text', text })),
  };
  if (role === 'assistant') {
    if (message.tool_calls != null) out.tool_calls = parseToolCalls(message.tool_calls, index);
    if (message.reasoning != null) {
      out.reasoning = message.reasoning;
      out.reasoning_content = message.reasoning;
    }
  } else if (role === 'tool') {
    if ('tool_call_id' in message) out.tool_call_id = message.tool_call_id;
    // Tool results sent as text parts are flattened even for "openai" templates.
    if (Array.isArray(out.content)) out.content = texts.join('\n');
  }
  if (typeof message.name === 'string') out.name = message.name;
  if (typeof message.task === 'string') out.task = message.task;
  if (role === 'developer') out.tools = message.tools ?? null;
  // An empty tool_calls list would send templates down the tool-call path for nothing.
  if (Array.isArray(out.tool_calls) && out.tool_calls.length === 0) delete out.tool_calls;
  return out;
}

function contentTexts(content: ChatMessage['content'], index: number): string[] {
  if (content == null) return [];
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) {
    throw new TokenizationInputError(
      `messages[${index}].content must be a string, an array of parts or null`,
    );
  }
  const texts: string[] = [];
  content.forEach((part, partIndex) => {
    const text = partText(part, `messages[${index}].content[${partIndex}]`);
    if (text !== undefined) texts.push(text);
  });
  return texts;
}

function partText(part: unknown, where: string): string | undefined {
  if (typeof part === 'string') return part;
  if (typeof part !== 'object' || part === null)
    throw new TokenizationInputError(`${where} must be an object`);
  const record = part as Record<string, unknown>;
  const type = record.type;
  if (type === undefined || type === null) {
    if (MULTIMODAL_KEYS.some((key) => key in record)) throw unsupported(where, 'multimodal');
    if ('tool_reference' in record) return stringField(record, 'name', where);
    throw new TokenizationInputError(`${where}: missing 'type' field`);
  }
  if (typeof type !== 'string') throw new TokenizationInputError(`${where}: invalid 'type' field`);
  const field = TEXT_FIELDS.get(type);
  if (field !== undefined) {
    const text = record[field];
    if (text == null && SKIP_WHEN_EMPTY.has(type)) return undefined;
    if (typeof text !== 'string') throw new TokenizationInputError(`${where}: '${field}' must be a string`);
    return text;
  }
  if (type === 'tool_reference') return stringField(record, 'name', where);
  if (MULTIMODAL_KEYS.includes(type) || type === 'image' || type === 'audio' || type === 'video') {
    throw unsupported(where, type);
  }
  throw new TokenizationInputError(`${where}: unsupported content part type '${type}'`);
}

function stringField(record: Record<string, unknown>, field: string, where: string): string {
  const value = record[field];
  if (typeof value !== 'string') throw new TokenizationInputError(`${where}: '${field}' must be a string`);
  return value;
}

function unsupported(where: string, kind: string): TokenizationInputError {
  return new TokenizationInputError(`${where}: ${kind} content is not supported (text-only tokenization)`);
}

/**
 * Deep-copies tool calls and parses each `function.arguments` JSON string into a value, as vLLM's
 * `_postprocess_messages` does (templates expect dicts): invalid JSON becomes `{}`, and so does
 * any value that is neither a string nor an object/array.
 */
function parseToolCalls(toolCalls: unknown, index: number): unknown[] {
  if (!Array.isArray(toolCalls))
    throw new TokenizationInputError(`messages[${index}].tool_calls must be an array`);
  return toolCalls.map((call, callIndex) => {
    const where = `messages[${index}].tool_calls[${callIndex}]`;
    if (typeof call !== 'object' || call === null)
      throw new TokenizationInputError(`${where} must be an object`);
    const copy = structuredClone(call) as Record<string, unknown>;
    const fn = copy.function;
    if (typeof fn !== 'object' || fn === null)
      throw new TokenizationInputError(`${where}.function must be an object`);
    const record = fn as Record<string, unknown>;
    const args = record.arguments;
    if (typeof args === 'string') {
      try {
        record.arguments = JSON.parse(args);
      } catch {
        record.arguments = {};
      }
    } else if (typeof args !== 'object' || args === null) {
      record.arguments = {};
    }
    return copy;
  });
}

/**
 * vLLM's handling of the `developer` role for templates that do not mention it: developer
 * messages become system messages, and if that leaves system messages anywhere but first (or
 * more than one), all system contents are merged, "\n\n"-joined, into one leading message.
 */
export function convertDeveloperMessages(
  conversation: readonly ConversationMessage[],
): ConversationMessage[] {
  if (!conversation.some((m) => m.role === 'developer')) return [...conversation];
  const converted = conversation.map((message) => {
    if (message.role !== 'developer') return message;
    const { tools: _tools, ...rest } = message;
    return { ...rest, role: 'system' };
  });
  const systemContents: string[] = [];
  const others: ConversationMessage[] = [];
  let needsMerge = false;
  converted.forEach((message, i) => {
    if (message.role !== 'system') {
      others.push(message);
      return;
    }
    if (i > 0 || systemContents.length > 0) needsMerge = true;
    const content = Array.isArray(message.content)
      ? message.content.map((part) => part.text).join('\n')
      : message.content;
    if (content) systemContents.push(content);
  });
  if (!needsMerge) return converted;
  return [{ role: 'system', content: systemContents.join('\n\n') }, ...others];
}

/** Whether a template handles the developer role itself (vLLM checks the source text). */
export function templateSupportsDeveloperRole(source: string): boolean {
  return source.includes('"developer"') || source.includes("'developer'");
}

/**
 * Request tools as vLLM's pydantic models dump them: `{type, function: {name, description,
 * parameters, ...extra}, ...extra}`, declared fields first with `null` defaults, extra fields
 * kept in their order. Returns null for no tools.
 */
export function normalizeTools(tools: readonly unknown[] | null | undefined): unknown[] | null {
  if (tools == null || tools.length === 0) return null;
  return tools.map((tool, index) => {
    const where = `tools[${index}]`;
    if (typeof tool !== 'object' || tool === null)
      throw new TokenizationInputError(`${where} must be an object`);
    const { type = 'function', function: fn, ...toolExtra } = tool as Record<string, unknown>;
    if (typeof fn !== 'object' || fn === null)
      throw new TokenizationInputError(`${where}.function must be an object`);
    const { name, description = null, parameters = null, ...fnExtra } = fn as Record<string, unknown>;
    if (typeof name !== 'string') throw new TokenizationInputError(`${where}.function.name must be a string`);
    return structuredClone({ type, function: { name, description, parameters, ...fnExtra }, ...toolExtra });
  });
}
