import { describe, expect, it } from 'vitest';
import { chatPromptText } from '../../src/scheduler/prompt-text.ts';

describe('chatPromptText (llm-d-router.md §2.7)', () => {
  it('concatenates tools JSON, then role + content per message, without separators', () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    const text = chatPromptText(
      [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hi ' },
            { type: 'text', text: 'there' },
          ],
        },
        { role: 'assistant', content: null },
      ],
      tools,
    );
    expect(text).toBe(`${JSON.stringify(tools)}systemBe brief.userHi thereassistant`);
  });

  it('distinguishes images by URL', () => {
    const msg = (url: string) => [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }];
    expect(chatPromptText(msg('http://x/1.png'))).toBe('userhttp://x/1.png');
    expect(chatPromptText(msg('http://x/1.png'))).not.toBe(chatPromptText(msg('http://x/2.png')));
  });
});
