import { describe, expect, it } from 'vitest';
import { pythonStrftime } from '../../src/tokenization/python-strftime.ts';
import { pythonStrip } from '../../src/tokenization/python-strip.ts';

describe('pythonStrip', () => {
  it('strips Python whitespace, which is not JavaScript whitespace', () => {
    expect(pythonStrip('\u001c\u0085 x \u00a0', null, 'both')).toBe('x');
    expect(pythonStrip('\ufeffx\ufeff', null, 'both')).toBe('\ufeffx\ufeff');
  });

  it('strips the given characters, by code point, from the requested side', () => {
    expect(pythonStrip('\n\n a \n', '\n', 'both')).toBe(' a ');
    expect(pythonStrip('xyabcyx', 'xy', 'left')).toBe('abcyx');
    expect(pythonStrip('xyabcyx', 'xy', 'right')).toBe('xyabc');
    expect(pythonStrip('🎉a🎉', '🎉', 'both')).toBe('a');
    expect(pythonStrip('', 'a', 'both')).toBe('');
  });
});

describe('pythonStrftime', () => {
  const date = new Date(2024, 6, 5, 14, 3, 9);

  it('formats like C-locale strftime, including glibc no-padding flags', () => {
    expect(pythonStrftime(date, '%d %b %Y')).toBe('05 Jul 2024');
    expect(pythonStrftime(date, '%A, %B %-d %y %H:%M:%S %I%p %j %%')).toBe(
      'Friday, July 5 24 14:03:09 02PM 187 %',
    );
    expect(pythonStrftime(date, '%Q stays')).toBe('%Q stays');
  });
});
