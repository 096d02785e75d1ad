/**
 * Maps scraped Prometheus samples to {@link EndpointMetrics}, per engine type, like llm-d's
 * `core-metrics-extractor` and its `engineConfigs` (reference §2.10, §4.1).
 *
 * An endpoint's engine type comes from its `llm-d.ai/engine-type` label (legacy
 * `inference.networking.k8s.io/engine-type`), defaulting to `vllm`. Each engine config names the
 * metrics to read as specs in `name{label=value}` syntax; here a spec field may also list several
 * specs, tried in order, so renamed metrics keep working on older servers
 * (`vllm:kv_cache_usage_perc`, then vLLM < 0.10's `vllm:gpu_cache_usage_perc`).
 */
import {
  formatMetricSpec,
  parseMetricSpec,
  selectLatestByTimestamp,
  selectLatestByValue,
  type MetricSpec,
} from './metric-spec.ts';
import type { PrometheusSample } from './prometheus-text.ts';
import type { EndpointMetrics } from './types.ts';

/** Endpoint label that names the engine type (llm-d's default `engineLabelKey`). */
export const ENGINE_TYPE_LABEL = 'llm-d.ai/engine-type';
/** Gateway API Inference Extension's older label, read when the primary one is absent. */
export const LEGACY_ENGINE_TYPE_LABEL = 'inference.networking.k8s.io/engine-type';
/** Engine assumed for endpoints without an engine-type label. */
export const DEFAULT_ENGINE_TYPE = 'vllm';

/** One spec, or several tried in order until one matches a series. */
export type MetricSpecList = string | readonly string[];

/** Metric names for one engine type. Field names follow llm-d's `engineConfigs[]`. */
export interface EngineMetricsConfig {
  readonly name: string;
  /** Waiting-queue length gauge. */
  readonly queuedRequestsSpec?: MetricSpecList;
  /** Running-requests gauge. */
  readonly runningRequestsSpec?: MetricSpecList;
  /** KV-cache utilisation gauge, 0..1. */
  readonly kvUsageSpec?: MetricSpecList;
  /**
   * LoRA info gauge with `running_lora_adapters`, `waiting_lora_adapters` (comma lists) and
   * `max_lora` labels; its value is the series' creation time, so the largest value wins.
   */
  readonly loraSpec?: MetricSpecList;
  /** Info gauge carrying the block size and block count as label values. */
  readonly cacheInfoSpec?: MetricSpecList;
  /** Label of `cacheInfoSpec` holding the block size in tokens. Default `block_size`. */
  readonly cacheBlockSizeLabelName?: string;
  /** Label of `cacheInfoSpec` holding the number of KV blocks. Default `num_gpu_blocks`. */
  readonly cacheNumBlocksLabelName?: string;
  /** Gauge whose value is the block size (preferred over `cacheInfoSpec` when present). */
  readonly cacheBlockSizeSpec?: MetricSpecList;
  /** Gauge whose value is the number of KV blocks (preferred over `cacheInfoSpec` when present). */
  readonly cacheNumBlocksSpec?: MetricSpecList;
}

/** Built-in engine configs; user configs with the same name replace them. */
export const DEFAULT_ENGINE_CONFIGS: readonly EngineMetricsConfig[] = [
  {
    name: 'vllm',
    queuedRequestsSpec: 'vllm:num_requests_waiting',
    runningRequestsSpec: 'vllm:num_requests_running',
    kvUsageSpec: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
    loraSpec: 'vllm:lora_requests_info',
    cacheInfoSpec: 'vllm:cache_config_info',
  },
  {
    name: 'sglang',
    queuedRequestsSpec: 'sglang:num_queue_reqs',
    runningRequestsSpec: 'sglang:num_running_reqs',
    kvUsageSpec: 'sglang:token_usage',
    // Newer SGLang exports plain gauges; older releases an info gauge with label values.
    cacheBlockSizeSpec: 'sglang:page_size',
    cacheNumBlocksSpec: 'sglang:num_pages',
    cacheInfoSpec: 'sglang:cache_config_info',
    cacheBlockSizeLabelName: 'page_size',
    cacheNumBlocksLabelName: 'num_pages',
  },
  {
    name: 'trtllm-serve',
    queuedRequestsSpec: 'trtllm_num_requests_waiting',
    runningRequestsSpec: 'trtllm_num_requests_running',
    kvUsageSpec: 'trtllm_kv_cache_utilization',
    cacheBlockSizeSpec: 'trtllm_kv_cache_tokens_per_block',
    cacheNumBlocksSpec: 'trtllm_kv_cache_max_blocks',
  },
  {
    name: 'triton-tensorrt-llm',
    queuedRequestsSpec: 'nv_trt_llm_request_metrics{request_type=waiting}',
    runningRequestsSpec: 'nv_trt_llm_request_metrics{request_type=scheduled}',
    kvUsageSpec: 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=fraction}',
    cacheBlockSizeSpec: 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=tokens_per}',
    cacheNumBlocksSpec: 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=max}',
  },
  {
    name: 'triton',
    queuedRequestsSpec: 'nv_inference_pending_request_count',
    runningRequestsSpec: 'nv_inference_exec_count',
  },
];

export interface EngineMetricsMapperOptions {
  /** Engine configs; built-in configs are appended for engine names not listed here. */
  readonly engineConfigs?: readonly EngineMetricsConfig[];
  /** Engine used for endpoints without an engine-type label. Default `vllm`. */
  readonly defaultEngine?: string;
  /** Endpoint label naming the engine type. Default `llm-d.ai/engine-type`. */
  readonly engineLabelKey?: string;
}

/** Result of mapping one scrape. */
export interface EngineMetricsExtraction {
  /**
   * The endpoint's metrics after this scrape: the previous metrics with every field that was
   * found replaced, `updatedAtMs` set to now. When nothing was found the previous metrics come
   * back unchanged (and go stale), as in llm-d.
   */
  readonly metrics: EndpointMetrics | null;
  /** Whether any field was read from this scrape. */
  readonly updated: boolean;
  /** Metrics that were configured but missing or unreadable. */
  readonly errors: readonly string[];
}

interface CompiledEngineConfig {
  readonly name: string;
  readonly queued: readonly MetricSpec[];
  readonly running: readonly MetricSpec[];
  readonly kvUsage: readonly MetricSpec[];
  readonly lora: readonly MetricSpec[];
  readonly cacheInfo: readonly MetricSpec[];
  readonly cacheBlockSizeLabel: string;
  readonly cacheNumBlocksLabel: string;
  readonly cacheBlockSize: readonly MetricSpec[];
  readonly cacheNumBlocks: readonly MetricSpec[];
  /** Every metric name the config reads: the parser's filter. */
  readonly metricNames: ReadonlySet<string>;
}

const EMPTY_LIST: readonly string[] = Object.freeze([]);

/**
 * Reads engine metrics out of scraped samples. Build one per router (configs are compiled once)
 * and call {@link EngineMetricsMapper.extract} per scrape.
 */
export class EngineMetricsMapper {
  readonly defaultEngine: string;
  readonly engineLabelKey: string;
  readonly #configs = new Map<string, CompiledEngineConfig>();

  /** @throws {Error} when a spec is malformed or `defaultEngine` has no config. */
  constructor(options: EngineMetricsMapperOptions = {}) {
    this.defaultEngine = options.defaultEngine ?? DEFAULT_ENGINE_TYPE;
    this.engineLabelKey = options.engineLabelKey ?? ENGINE_TYPE_LABEL;
    for (const config of options.engineConfigs ?? []) {
      if (config.name === '') throw new Error('engine config name cannot be empty');
      if (this.#configs.has(config.name)) {
        throw new Error(`duplicate engine config ${JSON.stringify(config.name)}`);
      }
      this.#configs.set(config.name, compileConfig(config));
    }
    for (const config of DEFAULT_ENGINE_CONFIGS) {
      if (!this.#configs.has(config.name)) this.#configs.set(config.name, compileConfig(config));
    }
    if (!this.#configs.has(this.defaultEngine)) {
      throw new Error(`defaultEngine ${JSON.stringify(this.defaultEngine)} has no engine config`);
    }
  }

  /** Engine type of an endpoint, from its labels. */
  engineTypeOf(labels: Readonly<Record<string, string>>): string {
    const primary = labels[this.engineLabelKey];
    if (primary !== undefined && primary !== '') return primary;
    const legacy = labels[LEGACY_ENGINE_TYPE_LABEL];
    if (legacy !== undefined && legacy !== '') return legacy;
    return this.defaultEngine;
  }

  /** Whether a config exists for the engine type. */
  hasEngine(engineType: string): boolean {
    return this.#configs.has(engineType);
  }

  /**
   * Names of every metric the engine's config reads; pass them as the parser's `names` filter
   * so the rest of the exposition (mostly histograms) is skipped.
   *
   * @throws {Error} for an engine type without a config.
   */
  metricNames(engineType: string): ReadonlySet<string> {
    return this.#config(engineType).metricNames;
  }

  /**
   * Maps one scrape's samples to metrics.
   *
   * @param previous the endpoint's metrics from the previous scrape; fields this scrape does not
   *   provide keep their previous values.
   * @param nowMs router clock at the scrape, stored as `updatedAtMs` when anything was read.
   * @throws {Error} for an engine type without a config.
   */
  extract(
    samples: readonly PrometheusSample[],
    engineType: string,
    previous: EndpointMetrics | null,
    nowMs: number,
  ): EngineMetricsExtraction {
    const config = this.#config(engineType);
    const errors: string[] = [];
    let updated = false;

    let waitingQueueSize = previous?.waitingQueueSize ?? 0;
    let runningRequestsSize = previous?.runningRequestsSize ?? 0;
    let kvCacheUsagePercent = previous?.kvCacheUsagePercent ?? 0;
    let blockSize = previous?.blockSize ?? null;
    let numGpuBlocks = previous?.numGpuBlocks ?? null;
    let activeLoras = previous?.activeLoras ?? EMPTY_LIST;
    let waitingLoras = previous?.waitingLoras ?? EMPTY_LIST;
    let maxActiveLoras = previous?.maxActiveLoras ?? null;

    const gauge = (specs: readonly MetricSpec[], what: string): number | undefined => {
      if (specs.length === 0) return undefined;
      const sample = firstMatch(samples, specs, selectLatestByTimestamp);
      if (sample === undefined) {
        errors.push(`${what}: no series matches ${specs.map(formatMetricSpec).join(' or ')}`);
        return undefined;
      }
      if (!Number.isFinite(sample.value)) {
        errors.push(`${what}: ${sample.name} is ${sample.value}`);
        return undefined;
      }
      updated = true;
      return sample.value;
    };

    const waiting = gauge(config.queued, 'waiting queue');
    if (waiting !== undefined) waitingQueueSize = Math.trunc(waiting);
    const running = gauge(config.running, 'running requests');
    if (running !== undefined) runningRequestsSize = Math.trunc(running);
    const kvUsage = gauge(config.kvUsage, 'KV usage');
    if (kvUsage !== undefined) kvCacheUsagePercent = kvUsage;

    // vLLM only emits the LoRA family once an adapter was loaded: absence is not an error.
    const lora = firstMatch(samples, config.lora, selectLatestByValue);
    if (lora !== undefined) {
      activeLoras = splitAdapters(lora.labels['running_lora_adapters']);
      waitingLoras = splitAdapters(lora.labels['waiting_lora_adapters']);
      const max = lora.labels['max_lora'];
      if (max !== undefined && max !== '') {
        const parsed = parseIntegerLabel(max);
        if (parsed === undefined) errors.push(`LoRA info: max_lora=${JSON.stringify(max)} is not an integer`);
        else maxActiveLoras = parsed;
      }
      updated = true;
    }

    const cache = readCacheConfig(samples, config, errors);
    if (cache.found) {
      updated = true;
      if (cache.blockSize !== undefined) blockSize = cache.blockSize;
      if (cache.numBlocks !== undefined) numGpuBlocks = cache.numBlocks;
    }

    if (!updated) return { metrics: previous, updated, errors };
    return {
      metrics: {
        waitingQueueSize,
        runningRequestsSize,
        kvCacheUsagePercent,
        blockSize,
        numGpuBlocks,
        activeLoras,
        waitingLoras,
        maxActiveLoras,
        updatedAtMs: nowMs,
      },
      updated,
      errors,
    };
  }

  #config(engineType: string): CompiledEngineConfig {
    const config = this.#configs.get(engineType);
    if (config === undefined) {
      throw new Error(`no engine metrics config for engine type ${JSON.stringify(engineType)}`);
    }
    return config;
  }
}

function compileConfig(config: EngineMetricsConfig): CompiledEngineConfig {
  const compile = (field: string, list: MetricSpecList | undefined): readonly MetricSpec[] => {
    const specs = list === undefined ? [] : typeof list === 'string' ? [list] : list;
    return specs
      .filter((spec) => spec.trim() !== '')
      .map((spec) => {
        try {
          return parseMetricSpec(spec);
        } catch (error) {
          throw new Error(
            `engine config ${JSON.stringify(config.name)}, ${field}: ${(error as Error).message}`,
          );
        }
      });
  };
  const compiled = {
    name: config.name,
    queued: compile('queuedRequestsSpec', config.queuedRequestsSpec),
    running: compile('runningRequestsSpec', config.runningRequestsSpec),
    kvUsage: compile('kvUsageSpec', config.kvUsageSpec),
    lora: compile('loraSpec', config.loraSpec),
    cacheInfo: compile('cacheInfoSpec', config.cacheInfoSpec),
    cacheBlockSizeLabel: config.cacheBlockSizeLabelName ?? 'block_size',
    cacheNumBlocksLabel: config.cacheNumBlocksLabelName ?? 'num_gpu_blocks',
    cacheBlockSize: compile('cacheBlockSizeSpec', config.cacheBlockSizeSpec),
    cacheNumBlocks: compile('cacheNumBlocksSpec', config.cacheNumBlocksSpec),
  };
  const metricNames = new Set<string>();
  for (const specs of [
    compiled.queued,
    compiled.running,
    compiled.kvUsage,
    compiled.lora,
    compiled.cacheInfo,
    compiled.cacheBlockSize,
    compiled.cacheNumBlocks,
  ]) {
    for (const spec of specs) metricNames.add(spec.name);
  }
  return { ...compiled, metricNames };
}

function firstMatch(
  samples: readonly PrometheusSample[],
  specs: readonly MetricSpec[],
  select: (samples: readonly PrometheusSample[], spec: MetricSpec) => PrometheusSample | undefined,
): PrometheusSample | undefined {
  for (const spec of specs) {
    const sample = select(samples, spec);
    if (sample !== undefined) return sample;
  }
  return undefined;
}

interface CacheConfigReading {
  readonly found: boolean;
  readonly blockSize?: number;
  readonly numBlocks?: number;
}

/** Block size and count from direct gauges when present, else from the info gauge's labels. */
function readCacheConfig(
  samples: readonly PrometheusSample[],
  config: CompiledEngineConfig,
  errors: string[],
): CacheConfigReading {
  const configured =
    config.cacheInfo.length + config.cacheBlockSize.length + config.cacheNumBlocks.length > 0;
  if (!configured) return { found: false };

  let blockSize: number | undefined;
  let numBlocks: number | undefined;
  const blockGauge = firstMatch(samples, config.cacheBlockSize, selectLatestByTimestamp);
  if (blockGauge !== undefined && Number.isFinite(blockGauge.value)) {
    blockSize = Math.trunc(blockGauge.value);
  }
  const countGauge = firstMatch(samples, config.cacheNumBlocks, selectLatestByTimestamp);
  if (countGauge !== undefined && Number.isFinite(countGauge.value)) {
    numBlocks = Math.trunc(countGauge.value);
  }

  if (blockSize === undefined || numBlocks === undefined) {
    const info = firstMatch(samples, config.cacheInfo, selectLatestByTimestamp);
    if (info !== undefined) {
      const label = (name: string): number | undefined => {
        const raw = info.labels[name];
        if (raw === undefined || raw === '') return undefined;
        const parsed = parseIntegerLabel(raw);
        if (parsed === undefined)
          errors.push(`cache config: ${name}=${JSON.stringify(raw)} is not an integer`);
        return parsed;
      };
      blockSize ??= label(config.cacheBlockSizeLabel);
      numBlocks ??= label(config.cacheNumBlocksLabel);
    }
  }

  if (blockSize === undefined && numBlocks === undefined) {
    const specs = [...config.cacheBlockSize, ...config.cacheNumBlocks, ...config.cacheInfo];
    errors.push(`cache config: no series matches ${specs.map(formatMetricSpec).join(' or ')}`);
    return { found: false };
  }
  return { found: true, blockSize, numBlocks };
}

function splitAdapters(csv: string | undefined): readonly string[] {
  if (csv === undefined || csv === '') return EMPTY_LIST;
  const names = new Set<string>();
  for (const part of csv.split(',')) {
    const name = part.trim();
    if (name !== '') names.add(name);
  }
  return names.size === 0 ? EMPTY_LIST : [...names];
}

function parseIntegerLabel(raw: string): number | undefined {
  return /^\s*-?\d+\s*$/.test(raw) ? Number.parseInt(raw, 10) : undefined;
}
