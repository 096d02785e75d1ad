/**
 * Rendering parity with Python: fixtures/chat-render-parity.json holds prompts rendered by real
 * Jinja2 configured as transformers configures it, behind vLLM's request handling (see
 * fixtures/generate-chat-render-parity.py). Each case checks both halves: vLLM's message parsing
 * (the conversation the template sees) and the rendered text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseChatMessages, type ContentFormat } from '../../src/tokenization/chat-messages.ts';
import { JinjaChatTemplate } from '../../src/tokenization/chat-template.ts';
import { ChatTemplateError } from '../../src/tokenization/errors.ts';
import { builtinModelDirectory, type BuiltinModelName } from '../../src/tokenization/model-registry.ts';
import { readTokenizerConfig } from '../../src/tokenization/tokenizer-config.ts';
import type { ChatMessage } from '../../src/tokenization/types.ts';

interface ParityCase {
  id: string;
  model: BuiltinModelName;
  template?: string;
  contentFormat?: ContentFormat;
  messages: ChatMessage[];
  conversation: unknown[];
  addGenerationPrompt?: boolean;
  continueFinalMessage?: boolean;
  tools?: unknown[];
  documents?: unknown[];
  chatTemplateKwargs?: Record<string, unknown>;
  reasoningEffort?: string;
  expected?: string;
  expectedError?: string;
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/chat-render-parity.json', import.meta.url), 'utf8'),
) as { fixedNow: string; cases: ParityCase[] };
// The fixture's naive local time, as Python's datetime.now() would have returned it.
const [datePart, timePart] = fixture.fixedNow.split('T') as [string, string];
const [y, mo, d] = datePart.split('-').map(Number) as [number, number, number];
const [h, mi, s] = timePart.split(':').map(Number) as [number, number, number];
const fixedNow = new Date(y, mo - 1, d, h, mi, s);

describe('chat template rendering matches Python Jinja2 + transformers + vLLM', () => {
  it('covers both built-in templates and custom ones', () => {
    expect(new Set(fixture.cases.map((c) => (c.template ? 'custom' : c.model)))).toEqual(
      new Set(['qwen3', 'llama3_1', 'custom']),
    );
  });

  for (const c of fixture.cases) {
    it(c.id, () => {
      const config = readTokenizerConfig(builtinModelDirectory(c.model));
      const template = new JinjaChatTemplate(c.template ?? config.chatTemplates!, {
        specialTokens: config.specialTokens,
        clock: () => fixedNow,
      });
      expect(template.contentFormat).toBe(c.contentFormat ?? 'string');
      expect(parseChatMessages(c.messages, template.contentFormat)).toStrictEqual(c.conversation);
      const render = (): string =>
        template.render(c.messages, {
          addGenerationPrompt: c.addGenerationPrompt ?? true,
          continueFinalMessage: c.continueFinalMessage ?? false,
          tools: c.tools ?? null,
          documents: c.documents ?? null,
          chatTemplateKwargs: c.chatTemplateKwargs ?? {},
          reasoningEffort: c.reasoningEffort ?? null,
        });
      if (c.expectedError !== undefined) {
        expect(render).toThrow(ChatTemplateError);
        expect(render).toThrow(c.expectedError);
      } else {
        expect(render()).toBe(c.expected);
      }
    });
  }
});
