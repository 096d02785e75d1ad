import { describe, expect, it } from 'vitest';
import {
  convertDeveloperMessages,
  normalizeTools,
  parseChatMessages,
  templateSupportsDeveloperRole,
} from '../../src/tokenization/chat-messages.ts';
import { TokenizationInputError } from '../../src/tokenization/errors.ts';
import type { ChatMessage } from '../../src/tokenization/types.ts';

describe('parseChatMessages (vLLM parse_chat_messages)', () => {
  it('turns null or missing content into an empty string, and keeps string content as is', () => {
    const out = parseChatMessages(
      [{ role: 'assistant', content: null }, { role: 'user' }, { role: 'user', content: '  x \n' }],
      'string',
    );
    expect(out.map((m) => m.content)).toEqual(['', '', '  x \n']);
  });

  it('joins text parts with "\\n" for string templates, skipping parts whose text is null', () => {
    const [message] = parseChatMessages(
      [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: null },
            'b',
            { type: 'refusal', refusal: 'no' },
            { type: 'input_text', text: '' },
            { type: 'thinking', thinking: 'hmm' },
          ],
        },
      ],
      'string',
    );
    expect(message!.content).toBe('a\nb\nno\n\nhmm');
  });

  it('wraps content as text parts for openai-format templates, but flattens tool results', () => {
    const out = parseChatMessages(
      [
        { role: 'user', content: 'hi' },
        {
          role: 'tool',
          tool_call_id: 't',
          content: [
            { type: 'text', text: 'x' },
            { type: 'text', text: 'y' },
          ],
        },
      ],
      'openai',
    );
    expect(out).toStrictEqual([
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      { role: 'tool', content: 'x\ny', tool_call_id: 't' },
    ]);
  });

  it('parses tool-call arguments into values without touching the caller’s objects', () => {
    const message = {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: '1', type: 'function', function: { name: 'f', arguments: '{"a": [1, 2]}' } },
        { id: '2', type: 'function', function: { name: 'g', arguments: '{broken' } },
        { id: '3', type: 'function', function: { name: 'h', arguments: null } },
      ],
    } satisfies ChatMessage;
    const snapshot = structuredClone(message);
    const [out] = parseChatMessages([message], 'string');
    expect(
      (out!.tool_calls as { function: { arguments: unknown } }[]).map((c) => c.function.arguments),
    ).toEqual([{ a: [1, 2] }, {}, {}]);
    expect(message).toStrictEqual(snapshot);
  });

  it('drops an empty tool_calls list and copies reasoning to reasoning_content', () => {
    const [out] = parseChatMessages(
      [{ role: 'assistant', content: 'x', tool_calls: [], reasoning: 'r' }],
      'string',
    );
    expect(out).toStrictEqual({ role: 'assistant', content: 'x', reasoning: 'r', reasoning_content: 'r' });
  });

  it('keeps only the fields vLLM forwards', () => {
    const [out] = parseChatMessages(
      [{ role: 'user', content: 'x', name: 'bob', extra: 1, tool_call_id: 'ignored for users' }],
      'string',
    );
    expect(out).toStrictEqual({ role: 'user', content: 'x', name: 'bob' });
  });

  it('rejects malformed messages and multimodal content with TokenizationInputError', () => {
    const bad: unknown[] = [
      [{ content: 'no role' }],
      [{ role: 'user', content: 5 }],
      [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://x/y.png' } }] }],
      [{ role: 'user', content: [{ image_url: 'http://x/y.png' }] }],
      [{ role: 'user', content: [{ type: 'mystery' }] }],
      [{ role: 'user', content: [{ text: 'no type' }] }],
      [{ role: 'assistant', tool_calls: [{ id: '1' }] }],
    ];
    for (const messages of bad) {
      expect(() => parseChatMessages(messages as ChatMessage[], 'string')).toThrow(TokenizationInputError);
    }
  });
});

describe('developer role (vLLM, for templates without one)', () => {
  it('is detected from the template source', () => {
    expect(templateSupportsDeveloperRole("{% if m.role == 'developer' %}")).toBe(true);
    expect(templateSupportsDeveloperRole('{% if m.role == "system" %}')).toBe(false);
  });

  it('becomes system; scattered system messages merge into one leading message', () => {
    const out = convertDeveloperMessages([
      { role: 'system', content: 'A' },
      { role: 'user', content: 'q' },
      { role: 'developer', content: 'B', tools: null },
      { role: 'system', content: '' },
    ]);
    expect(out).toStrictEqual([
      { role: 'system', content: 'A\n\nB' },
      { role: 'user', content: 'q' },
    ]);
  });

  it('leaves a single leading developer message in place, as system', () => {
    expect(
      convertDeveloperMessages([
        { role: 'developer', content: 'B', tools: null },
        { role: 'user', content: 'q' },
      ]),
    ).toStrictEqual([
      { role: 'system', content: 'B' },
      { role: 'user', content: 'q' },
    ]);
  });
});

describe('normalizeTools (vLLM ChatCompletionToolsParam.model_dump)', () => {
  it('orders declared fields first, fills null defaults and keeps extra fields', () => {
    const out = normalizeTools([
      { function: { parameters: { type: 'object' }, name: 'f', strict: true }, x: 1 },
    ]);
    expect(JSON.stringify(out)).toBe(
      '[{"type":"function","function":{"name":"f","description":null,"parameters":{"type":"object"},"strict":true},"x":1}]',
    );
  });

  it('maps no tools to null and rejects tools without a function name', () => {
    expect(normalizeTools(null)).toBeNull();
    expect(normalizeTools([])).toBeNull();
    expect(() => normalizeTools([{ type: 'function', function: {} }])).toThrow(TokenizationInputError);
  });
});
