import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  EngineMetricsMapper,
  ENGINE_TYPE_LABEL,
  LEGACY_ENGINE_TYPE_LABEL,
} from '../../src/fleet/engine-metrics.ts';
import { formatMetricSpec, parseMetricSpec } from '../../src/fleet/metric-spec.ts';
import { parsePrometheusText } from '../../src/fleet/prometheus-text.ts';
import type { EndpointMetrics } from '../../src/fleet/types.ts';

const fixture = readFileSync(new URL('./fixtures/vllm-metrics.prom', import.meta.url), 'utf8');
const mapper = new EngineMetricsMapper();

function extract(
  text: string,
  labels: Record<string, string> = {},
  previous: EndpointMetrics | null = null,
  nowMs = 1000,
) {
  return mapper.extract(parsePrometheusText(text), mapper.engineTypeOf(labels), previous, nowMs);
}

describe('EngineMetricsMapper, vLLM', () => {
  it('maps a real vLLM exposition, taking the newest LoRA series by value', () => {
    const result = extract(fixture, {}, null, 4242);
    expect(result.errors).toEqual([]);
    expect(result.updated).toBe(true);
    expect(result.metrics).toEqual({
      waitingQueueSize: 3,
      runningRequestsSize: 7,
      kvCacheUsagePercent: 0.4182156133828996,
      blockSize: 16,
      numGpuBlocks: 27153,
      // Three lora_requests_info series; the one with the largest value (newest) is current.
      activeLoras: ['a', 'b'],
      waitingLoras: [],
      maxActiveLoras: 1,
      updatedAtMs: 4242,
    });
  });

  it('reads only the metrics it needs when the parser is given the config names', () => {
    const names = mapper.metricNames('vllm');
    expect([...names].sort()).toEqual([
      'vllm:cache_config_info',
      'vllm:gpu_cache_usage_perc',
      'vllm:kv_cache_usage_perc',
      'vllm:lora_requests_info',
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
    ]);
    const filtered = mapper.extract(parsePrometheusText(fixture, { names }), 'vllm', null, 1);
    expect(filtered).toEqual(extract(fixture, {}, null, 1));
  });

  it('falls back to vllm:gpu_cache_usage_perc on older vLLM, and prefers the new name when both exist', () => {
    const old = 'vllm:num_requests_waiting 1\nvllm:num_requests_running 2\nvllm:gpu_cache_usage_perc 0.25\n';
    expect(extract(old).metrics?.kvCacheUsagePercent).toBe(0.25);
    const both = `${old}vllm:kv_cache_usage_perc 0.75\n`;
    expect(extract(both).metrics?.kvCacheUsagePercent).toBe(0.75);
  });

  it('parses waiting LoRA adapters, trimming and de-duplicating names', () => {
    const text =
      'vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0\n' +
      'vllm:lora_requests_info{max_lora="4",running_lora_adapters=" x , y,x",waiting_lora_adapters="z,"} 2e9\n' +
      'vllm:lora_requests_info{max_lora="4",running_lora_adapters="old",waiting_lora_adapters=""} 1e9\n';
    const metrics = extract(text).metrics;
    expect(metrics?.activeLoras).toEqual(['x', 'y']);
    expect(metrics?.waitingLoras).toEqual(['z']);
    expect(metrics?.maxActiveLoras).toBe(4);
  });

  it('reports missing metrics, keeps their previous values and still updates the rest', () => {
    const previous = extract(fixture, {}, null, 1).metrics;
    const result = extract('vllm:num_requests_waiting 9\n', {}, previous, 2);
    expect(result.updated).toBe(true);
    expect(result.metrics).toMatchObject({
      waitingQueueSize: 9,
      runningRequestsSize: 7,
      kvCacheUsagePercent: 0.4182156133828996,
      blockSize: 16,
      // vLLM only emits LoRA info once an adapter is loaded: absence is silent and keeps state.
      activeLoras: ['a', 'b'],
      updatedAtMs: 2,
    });
    expect(result.errors).toEqual([
      'running requests: no series matches vllm:num_requests_running',
      'KV usage: no series matches vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc',
      'cache config: no series matches vllm:cache_config_info',
    ]);
  });

  it('returns the previous metrics untouched (so they go stale) when nothing matched', () => {
    const previous = extract(fixture, {}, null, 1).metrics;
    const result = extract('unrelated_metric 1\n', {}, previous, 99);
    expect(result.updated).toBe(false);
    expect(result.metrics).toBe(previous);
    expect(extract('unrelated_metric 1\n').metrics).toBeNull();
  });

  it('rejects non-finite gauge values and malformed integer labels', () => {
    const text =
      'vllm:num_requests_waiting NaN\nvllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0.5\n' +
      'vllm:cache_config_info{block_size="sixteen",num_gpu_blocks="100"} 1\n';
    const result = extract(text);
    expect(result.metrics).toMatchObject({ waitingQueueSize: 0, blockSize: null, numGpuBlocks: 100 });
    expect(result.errors).toEqual([
      'waiting queue: vllm:num_requests_waiting is NaN',
      'cache config: block_size="sixteen" is not an integer',
    ]);
  });

  it('picks the series with the latest timestamp when several match', () => {
    const text =
      'vllm:num_requests_waiting{engine="0"} 5 1000\nvllm:num_requests_waiting{engine="1"} 8 3000\n' +
      'vllm:num_requests_waiting{engine="2"} 6 2000\nvllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0\n';
    expect(extract(text).metrics?.waitingQueueSize).toBe(8);
    // Without timestamps the first series wins, as in llm-d.
    expect(extract(text.replace(/ \d000\n/g, '\n')).metrics?.waitingQueueSize).toBe(5);
  });
});

describe('EngineMetricsMapper, engine types', () => {
  it('uses the engine-type label, then the legacy label, then the default engine', () => {
    expect(mapper.engineTypeOf({ [ENGINE_TYPE_LABEL]: 'sglang' })).toBe('sglang');
    expect(mapper.engineTypeOf({ [LEGACY_ENGINE_TYPE_LABEL]: 'trtllm-serve' })).toBe('trtllm-serve');
    expect(mapper.engineTypeOf({ [ENGINE_TYPE_LABEL]: '', [LEGACY_ENGINE_TYPE_LABEL]: 'sglang' })).toBe(
      'sglang',
    );
    expect(mapper.engineTypeOf({})).toBe('vllm');
  });

  const sglangLabels = { [ENGINE_TYPE_LABEL]: 'sglang' };
  const sglangLoad =
    'sglang:num_queue_reqs{model_name="q",tp_rank="0"} 4.0\nsglang:num_running_reqs{model_name="q",tp_rank="0"} 12.0\n' +
    'sglang:token_usage{model_name="q",tp_rank="0"} 0.61\n';

  it('maps current SGLang (page size and count as gauges)', () => {
    const text = `${sglangLoad}sglang:page_size{tp_rank="0"} 1.0\nsglang:num_pages{tp_rank="0"} 200000.0\n`;
    const result = extract(text, sglangLabels);
    expect(result.errors).toEqual([]);
    expect(result.metrics).toMatchObject({
      waitingQueueSize: 4,
      runningRequestsSize: 12,
      kvCacheUsagePercent: 0.61,
      blockSize: 1,
      numGpuBlocks: 200000,
      activeLoras: [],
    });
  });

  it('maps older SGLang (cache_config_info with page_size/num_pages labels)', () => {
    const text = `${sglangLoad}sglang:cache_config_info{num_pages="5000",page_size="16"} 1.0\n`;
    expect(extract(text, sglangLabels).metrics).toMatchObject({ blockSize: 16, numGpuBlocks: 5000 });
  });

  it('matches label selectors in specs (Triton TensorRT-LLM)', () => {
    const text = [
      'nv_trt_llm_request_metrics{model="m",request_type="waiting"} 2',
      'nv_trt_llm_request_metrics{model="m",request_type="scheduled"} 9',
      'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",model="m"} 0.5',
      'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="tokens_per",model="m"} 64',
      'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max",model="m"} 900',
    ].join('\n');
    expect(extract(text, { [ENGINE_TYPE_LABEL]: 'triton-tensorrt-llm' }).metrics).toMatchObject({
      waitingQueueSize: 2,
      runningRequestsSize: 9,
      kvCacheUsagePercent: 0.5,
      blockSize: 64,
      numGpuBlocks: 900,
    });
  });

  it('lets configs replace a built-in engine and add new ones', () => {
    const custom = new EngineMetricsMapper({
      engineConfigs: [
        {
          name: 'vllm',
          queuedRequestsSpec: 'pool_waiting{pool="a"}',
          runningRequestsSpec: 'pool_running',
          kvUsageSpec: 'pool_kv',
        },
        { name: 'llamacpp', queuedRequestsSpec: 'llamacpp:requests_deferred' },
      ],
      defaultEngine: 'llamacpp',
      engineLabelKey: 'engine',
    });
    const vllm = custom.extract(
      parsePrometheusText(
        'pool_waiting{pool="b"} 1\npool_waiting{pool="a"} 7\npool_running 2\npool_kv 0.1\n',
      ),
      custom.engineTypeOf({ engine: 'vllm' }),
      null,
      5,
    );
    expect(vllm.metrics).toMatchObject({
      waitingQueueSize: 7,
      runningRequestsSize: 2,
      kvCacheUsagePercent: 0.1,
    });
    expect(vllm.errors).toEqual([]);
    expect(custom.engineTypeOf({})).toBe('llamacpp');
    expect(custom.hasEngine('sglang')).toBe(true);
  });

  it('fails clearly on bad configuration and unknown engine types', () => {
    expect(() => new EngineMetricsMapper({ defaultEngine: 'nope' })).toThrow(
      'defaultEngine "nope" has no engine config',
    );
    expect(
      () => new EngineMetricsMapper({ engineConfigs: [{ name: 'x', queuedRequestsSpec: 'bad name{' }] }),
    ).toThrow('engine config "x", queuedRequestsSpec: invalid metric spec "bad name{"');
    expect(() => mapper.extract([], 'mystery', null, 0)).toThrow(
      'no engine metrics config for engine type "mystery"',
    );
  });
});

describe('parseMetricSpec', () => {
  it('reads names with quoted and unquoted label values', () => {
    expect(parseMetricSpec('vllm:num_requests_waiting')).toEqual({
      name: 'vllm:num_requests_waiting',
      labels: {},
    });
    expect(parseMetricSpec(' m{a=b, c="d,e}" ,f = "g\\"h"} ')).toEqual({
      name: 'm',
      labels: { a: 'b', c: 'd,e}', f: 'g"h' },
    });
    expect(formatMetricSpec(parseMetricSpec('m{a=b}'))).toBe('m{a="b"}');
  });

  it.each(['', '{a=b}', 'm{a}', 'm{a=b', '1m', 'm{a=b c}'])('rejects %j', (spec) => {
    expect(() => parseMetricSpec(spec)).toThrow(/invalid (metric spec|label matcher)/);
  });
});
