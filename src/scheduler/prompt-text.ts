/**
 * The flattened prompt text the approximate prefix producer hashes (`SchedulingRequest.promptText`),
 * built as llm-d's estimate tokenizer does for chat (llm-d-router.md §2.7 "Input tokens"): the
 * tools as JSON, then for each message its role immediately followed by its text content, with no
 * separators. For a completions request the prompt text is used as is.
 *
 * Multimodal parts: llm-d inserts N placeholder pseudo-tokens derived from xxhash64 of the URL or
 * data; here the URL (or audio data + format) is appended as text instead, which keeps "same image
 * → same blocks, different image → different blocks" without estimating placeholder counts.
 */
import type { ChatMessage } from '../tokenization/types.ts';

export function chatPromptText(messages: readonly ChatMessage[], tools?: readonly unknown[] | null): string {
  // join() yields a flat string; `+=` would build a rope that V8 flattens slowly when it is hashed.
  const parts: string[] = tools && tools.length > 0 ? [JSON.stringify(tools)] : [];
  for (const message of messages) {
    parts.push(message.role);
    const { content } = message;
    if (typeof content === 'string') {
      parts.push(content);
    } else if (Array.isArray(content)) {
      for (const part of content) parts.push(partText(part));
    }
  }
  return parts.join('');
}

function partText(part: { readonly type: string; readonly [key: string]: unknown }): string {
  switch (part.type) {
    case 'text':
      return typeof part['text'] === 'string' ? part['text'] : '';
    case 'image_url':
      return urlOf(part['image_url']);
    case 'video_url':
      return urlOf(part['video_url']);
    case 'input_audio': {
      const audio = part['input_audio'] as { data?: unknown; format?: unknown } | undefined;
      return `${typeof audio?.data === 'string' ? audio.data : ''}${typeof audio?.format === 'string' ? audio.format : ''}`;
    }
    default:
      return '';
  }
}

function urlOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'url' in value && typeof value.url === 'string') return value.url;
  return '';
}
