import { describe, expect, it } from 'vitest';
import { JinjaChatTemplate } from '../../src/tokenization/chat-template.ts';
import { ChatTemplateError, TokenizationInputError } from '../../src/tokenization/errors.ts';
import { builtinModelDirectory } from '../../src/tokenization/model-registry.ts';
import { readTokenizerConfig } from '../../src/tokenization/tokenizer-config.ts';

const qwen3 = readTokenizerConfig(builtinModelDirectory('qwen3'));
const qwenTemplate = new JinjaChatTemplate(qwen3.chatTemplates!, { specialTokens: qwen3.specialTokens });
const user = [{ role: 'user', content: 'Hi' }];

describe('JinjaChatTemplate options', () => {
  it('adds the generation prompt by default, as chat completions do', () => {
    expect(qwenTemplate.render(user)).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(qwenTemplate.render(user, { addGenerationPrompt: false })).toBe(
      '<|im_start|>user\nHi<|im_end|>\n',
    );
  });

  it('refuses add_generation_prompt together with continue_final_message', () => {
    expect(() => qwenTemplate.render(user, { continueFinalMessage: true })).toThrow(TokenizationInputError);
  });

  it('continue_final_message cuts right after the final message, including its last text part', () => {
    const text = qwenTemplate.render(
      [...user, { role: 'assistant', content: [{ type: 'text', text: 'Once upon' }] }],
      { addGenerationPrompt: false, continueFinalMessage: true },
    );
    expect(text).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nOnce upon',
    );
  });

  it('passes chat_template_kwargs the template reads, and drops the others', () => {
    const thinkingOff = qwenTemplate.render(user, { chatTemplateKwargs: { enable_thinking: false } });
    expect(thinkingOff.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
    const template = new JinjaChatTemplate(
      '{{ known }}|{{ unknown is defined }}|{{ add_generation_prompt }}',
    );
    expect(
      template.render(user, {
        chatTemplateKwargs: { known: 'k', unknown_kwarg: 1, add_generation_prompt: false },
      }),
    ).toBe('k|false|true');
  });

  it('rejects the kwargs vLLM rejects', () => {
    expect(() => qwenTemplate.render(user, { chatTemplateKwargs: { chat_template: 'x' } })).toThrow(
      TokenizationInputError,
    );
    expect(() => qwenTemplate.render(user, { chatTemplateKwargs: { tokenize: true } })).toThrow(
      TokenizationInputError,
    );
  });

  it('exposes special tokens from tokenizer_config, and only those that are set', () => {
    const template = new JinjaChatTemplate(
      '{{ eos_token }}|{{ bos_token is defined }}|{{ additional_special_tokens[0] }}',
      {
        specialTokens: qwen3.specialTokens,
      },
    );
    expect(template.render(user)).toBe('<|im_end|>|false|<|im_start|>');
  });

  it('selects the tool_use template when tools are given', () => {
    const template = new JinjaChatTemplate({ default: 'plain', tool_use: '{{ tools[0].function.name }}' });
    expect(template.render(user)).toBe('plain');
    expect(template.render(user, { tools: [{ type: 'function', function: { name: 'f' } }] })).toBe('f');
  });

  it('keeps the developer role for templates that handle it', () => {
    const template = new JinjaChatTemplate(
      "{% for m in messages %}{{ m.role }}{% if m.role == 'developer' %}!{% endif %} {% endfor %}",
    );
    expect(template.render([{ role: 'developer', content: 'x' }, ...user])).toBe('developer! user ');
  });

  it('gives templates strftime_now on the configured clock and raise_exception as ChatTemplateError', () => {
    const template = new JinjaChatTemplate(
      "{{ strftime_now('%d %b %Y %H:%M') }}{% if messages|length > 1 %}{{ raise_exception('only one message') }}{% endif %}",
      {
        clock: () => new Date(2024, 6, 26, 14, 3),
      },
    );
    expect(template.render(user)).toBe('26 Jul 2024 14:03');
    expect(() => template.render([...user, ...user])).toThrow(new ChatTemplateError('only one message'));
  });

  it('reports template failures as ChatTemplateError', () => {
    expect(() => new JinjaChatTemplate('{% for %}')).toThrow(ChatTemplateError);
    expect(() => new JinjaChatTemplate('{{ messages[0].content.nope() }}').render(user)).toThrow(
      ChatTemplateError,
    );
  });

  it('detects the content format vLLM would (string for string templates, openai for part loops)', () => {
    expect(qwenTemplate.contentFormat).toBe('string');
    const loops = [
      "{% for m in messages %}{% for p in m['content'] %}{{ p.text }}{% endfor %}{% endfor %}",
      '{% set msgs = messages[1:] %}{% for m in msgs %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endfor %}',
      '{% for m in messages %}{% set content = m.content %}{% for p in content %}{{ p.text }}{% endfor %}{% endfor %}',
    ];
    for (const source of loops) expect(new JinjaChatTemplate(source).contentFormat).toBe('openai');
    expect(new JinjaChatTemplate('{% for m in messages %}{{ m.content }}{% endfor %}').contentFormat).toBe(
      'string',
    );
    expect(new JinjaChatTemplate('{{ x }}', { contentFormat: 'openai' }).contentFormat).toBe('openai');
  });

  it('applies Python semantics to strip(chars) and trim', () => {
    const template = new JinjaChatTemplate(
      "[{{ messages[0].content.strip('\\n') }}][{{ messages[0].content | trim }}][{{ messages[0].content.lstrip('\\n ') }}]",
    );
    expect(template.render([{ role: 'user', content: '\n\n a \ufeff\n' }])).toBe(
      '[ a \ufeff][a \ufeff][a \ufeff\n]',
    );
  });
});
