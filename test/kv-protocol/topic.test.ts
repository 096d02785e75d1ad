import { describe, expect, it } from 'vitest';
import { formatKvTopic, parseKvTopic } from '../../src/kv-protocol/topic.ts';
import { eventExample } from './fixtures/reference-vectors.ts';

describe('kv@<pod>@<model> topics', () => {
  it('parses the reference topic', () => {
    const topic = eventExample('array_like_int_hashes').zmq_frames.topic_utf8;
    expect(parseKvTopic(topic)).toEqual({ pod: '10.0.0.1:8000', model: 'Qwen/Qwen3-0.6B' });
  });

  it('keeps a model name containing "@" whole (llm-d would not)', () => {
    expect(parseKvTopic('kv@10.0.0.2:8000@org/model@rev2')).toEqual({
      pod: '10.0.0.2:8000',
      model: 'org/model@rev2',
    });
    expect(parseKvTopic('kv@pod@@')).toEqual({ pod: 'pod', model: '@' });
  });

  it('round-trips through formatKvTopic', () => {
    const topic = formatKvTopic('[fd00::1]:8000', 'meta-llama/Llama-3.1-8B@main');
    expect(topic).toBe('kv@[fd00::1]:8000@meta-llama/Llama-3.1-8B@main');
    expect(parseKvTopic(topic)).toEqual({ pod: '[fd00::1]:8000', model: 'meta-llama/Llama-3.1-8B@main' });
  });

  it.each(['', 'kv', 'kv@pod', 'kv@@model', 'kv@pod@', 'KV@pod@model', 'xkv@pod@model', 'vllm@pod@model'])(
    'rejects %j',
    (topic) => {
      expect(parseKvTopic(topic)).toBeNull();
    },
  );

  it('refuses to build an ambiguous topic', () => {
    expect(() => formatKvTopic('a@b', 'm')).toThrow(RangeError);
    expect(() => formatKvTopic('', 'm')).toThrow(RangeError);
    expect(() => formatKvTopic('pod', '')).toThrow(RangeError);
  });
});
