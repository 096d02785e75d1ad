import { describe, expect, it } from 'vitest';
import { resolveIndexBlockSize } from '../../src/routing/index-block-size.ts';
import { loadNamedConfig, loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { SchedulerConfigError } from '../../src/scheduler/config/config-error.ts';

const precise = (size: number) => `
plugins:
- type: precise-prefix-cache-producer
  parameters: {tokenProcessorConfig: {blockSizeTokens: ${size}}}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
`;

describe('index block size', () => {
  it("follows the precise producer's blockSizeTokens when not given", () => {
    expect(resolveIndexBlockSize(loadSchedulerConfig(precise(64)))).toBe(64);
    expect(resolveIndexBlockSize(loadNamedConfig('llm-d-precise'))).toBe(64);
  });

  it("defaults to vLLM's 16 without a precise producer, and takes an explicit size", () => {
    expect(resolveIndexBlockSize(loadNamedConfig('llm-d-well-lit'))).toBe(16);
    expect(resolveIndexBlockSize(loadNamedConfig('llm-d-well-lit'), 32)).toBe(32);
    expect(resolveIndexBlockSize(loadSchedulerConfig(precise(32)), 32)).toBe(32);
  });

  it('refuses an index block size the producer would misread', () => {
    expect(() => resolveIndexBlockSize(loadSchedulerConfig(precise(64)), 16)).toThrow(SchedulerConfigError);
    expect(() => resolveIndexBlockSize(loadSchedulerConfig(precise(64)), 16)).toThrow(/blockSizeTokens 64/);
  });
});
