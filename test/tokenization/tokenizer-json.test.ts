import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtinModelDirectory } from '../../src/tokenization/model-registry.ts';
import { parseTopLevelFieldsExcept } from '../../src/tokenization/tokenizer-json.ts';

describe('parseTopLevelFieldsExcept', () => {
  it('equals JSON.parse minus the skipped field, for any JSON object', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.boolean(), (object, pretty) => {
        const text = JSON.stringify({ ...object, model: { vocab: object } }, null, pretty ? 2 : undefined);
        const expected = JSON.parse(text) as Record<string, unknown>;
        delete expected.model;
        expect(parseTopLevelFieldsExcept(text, 'model')).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('reads the real tokenizer.json files like JSON.parse does', () => {
    for (const name of ['qwen3', 'llama3_1'] as const) {
      const text = readFileSync(`${builtinModelDirectory(name)}/tokenizer.json`, 'utf8');
      const { model: _model, ...expected } = JSON.parse(text) as Record<string, unknown>;
      expect(parseTopLevelFieldsExcept(text, 'model')).toEqual(expected);
    }
  });

  it('rejects text that is not an object', () => {
    expect(() => parseTopLevelFieldsExcept('[1]', 'model')).toThrow(SyntaxError);
    expect(() => parseTopLevelFieldsExcept('{"a": "unterminated', 'model')).toThrow(SyntaxError);
  });
});
