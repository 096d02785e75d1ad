/**
 * Flattens a request's prompt-bearing fields into one string for approximate (character-based)
 * prefix routing. The format only has to be deterministic and prefix-preserving: two requests that
 * share leading messages share a leading substring.
 */
import type {
  ChatRequestBody,
  CompletionsRequestBody,
  EmbeddingsRequestBody,
  ResponsesRequestBody,
} from './request-schema.ts';

type Content = ChatRequestBody['messages'][number]['content'];

/** Text of a message content: the string itself, or the text of its text parts in order. */
function contentText(content: Content): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (typeof part === 'string') text += part;
    else if (typeof part['text'] === 'string') text += part['text'];
  }
  return text;
}

/** `role\ncontent\n` per message, in order. */
export function chatPromptText(body: ChatRequestBody): string {
  let text = '';
  for (const message of body.messages) text += `${message.role}\n${contentText(message.content)}\n`;
  return text;
}

/** A completions `prompt` or embeddings `input`: strings joined by newlines; token ids have no text. */
export function promptListText(
  value: CompletionsRequestBody['prompt'] | EmbeddingsRequestBody['input'],
): string {
  if (typeof value === 'string') return value;
  const texts = value.filter((v): v is string => typeof v === 'string');
  return texts.length === value.length ? texts.join('\n') : '';
}

/** Instructions, then the input string or each item's role and content text. */
export function responsesPromptText(body: ResponsesRequestBody): string {
  let text = body.instructions ? `${body.instructions}\n` : '';
  if (typeof body.input === 'string') return text + body.input;
  for (const item of body.input) {
    const role = typeof item['role'] === 'string' ? item['role'] : (item['type'] ?? '');
    const output = typeof item['output'] === 'string' ? item['output'] : '';
    text += `${String(role)}\n${contentText(item.content)}${output}\n`;
  }
  return text;
}
