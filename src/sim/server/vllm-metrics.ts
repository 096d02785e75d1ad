/**
 * The simulator's `/metrics`, with vLLM's metric names, labels and histogram buckets, so a router
 * scraping it cannot tell it from `vllm serve`. Gauges and counters are read from the engine at
 * scrape time; latency histograms are observed as requests finish.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats, RequestResult } from '../engine/types.ts';

/** vLLM's TTFT buckets (vllm/v1/metrics/loggers.py). */
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
  80.0, 160.0, 640.0, 2560.0,
];
/** vLLM's request-latency buckets (e2e, queue time). */
const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
  960.0, 1920.0, 7680.0,
];
const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];

export interface VllmMetricsSource {
  stats(): EngineStats;
  readonly maxLoras: number;
}

export class VllmMetrics {
  readonly registry = new Registry();
  private readonly ttft: Histogram;
  private readonly e2e: Histogram;
  private readonly queueTime: Histogram;
  private readonly itl: Histogram;
  private readonly success: Counter;
  private readonly labels: { model_name: string; engine: string };

  constructor(modelName: string, source: VllmMetricsSource) {
    const labels = { model_name: modelName, engine: '0' };
    this.labels = labels;
    const labelNames = ['model_name', 'engine'] as const;
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: (s: EngineStats) => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.set(labels, read(source.stats()));
        },
      });
    };
    const counter = (name: string, help: string, read: (s: EngineStats) => number): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          // Engine totals are cumulative already; republish them as the counter value.
          this.reset();
          this.inc(labels, read(source.stats()));
        },
      });
    };
    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', (s) => s.running);
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (s) => s.waiting);
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', (s) => s.kvCacheUsage);
    counter(
      'vllm:prefix_cache_queries_total',
      'Prefix cache queries, in terms of number of queried tokens.',
      (s) => s.prefixCacheQueries,
    );
    counter(
      'vllm:prefix_cache_hits_total',
      'Prefix cache hits, in terms of number of cached tokens.',
      (s) => s.prefixCacheHits,
    );
    counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', (s) => s.promptTokensTotal);
    counter(
      'vllm:generation_tokens_total',
      'Number of generation tokens processed.',
      (s) => s.generationTokensTotal,
    );
    counter(
      'vllm:num_preemptions_total',
      'Cumulative number of preemption from the engine.',
      (s) => s.preemptionsTotal,
    );

    new Gauge({
      name: 'vllm:cache_config_info',
      help: 'Information of the LLMEngine CacheConfig',
      labelNames: ['block_size', 'num_gpu_blocks', 'enable_prefix_caching', 'cache_dtype', 'engine'],
      registers,
      collect() {
        const s = source.stats();
        this.reset();
        this.set(
          {
            block_size: String(s.blockSize),
            num_gpu_blocks: String(s.numGpuBlocks),
            enable_prefix_caching: 'True',
            cache_dtype: 'auto',
            engine: '0',
          },
          1,
        );
      },
    });
    new Gauge({
      name: 'vllm:lora_requests_info',
      help: 'Running stats on lora requests.',
      labelNames: ['max_lora', 'running_lora_adapters', 'waiting_lora_adapters'],
      registers,
      collect() {
        const s = source.stats();
        this.reset();
        // vLLM publishes the wall-clock time as the value; consumers pick the newest series.
        this.set(
          {
            max_lora: String(source.maxLoras),
            running_lora_adapters: s.runningLoras.join(','),
            waiting_lora_adapters: s.waitingLoras.join(','),
          },
          Date.now() / 1000,
        );
      },
    });

    this.ttft = new Histogram({
      name: 'vllm:time_to_first_token_seconds',
      help: 'Histogram of time to first token in seconds.',
      labelNames,
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.e2e = new Histogram({
      name: 'vllm:e2e_request_latency_seconds',
      help: 'Histogram of e2e request latency in seconds.',
      labelNames,
      buckets: REQUEST_LATENCY_BUCKETS,
      registers,
    });
    this.queueTime = new Histogram({
      name: 'vllm:request_queue_time_seconds',
      help: 'Histogram of time spent in WAITING phase for request.',
      labelNames,
      buckets: REQUEST_LATENCY_BUCKETS,
      registers,
    });
    this.itl = new Histogram({
      name: 'vllm:inter_token_latency_seconds',
      help: 'Histogram of inter-token latency in seconds.',
      labelNames,
      buckets: ITL_BUCKETS,
      registers,
    });
    this.success = new Counter({
      name: 'vllm:request_success_total',
      help: 'Count of successfully processed requests.',
      labelNames: ['model_name', 'engine', 'finish_reason'],
      registers,
    });
  }

  /** Record a finished request's latencies (engine seconds). */
  observeFinished(r: RequestResult): void {
    if (r.finishReason === 'abort' || r.finishReason === 'error') return;
    this.ttft.observe(this.labels, r.firstTokenTime - r.arrivalTime);
    this.e2e.observe(this.labels, r.finishTime - r.arrivalTime);
    this.queueTime.observe(this.labels, r.firstScheduledTime - r.arrivalTime);
    if (r.completionTokens > 1) {
      this.itl.observe(this.labels, (r.finishTime - r.firstTokenTime) / (r.completionTokens - 1));
    }
    this.success.inc({ ...this.labels, finish_reason: r.finishReason }, 1);
  }

  /** Prometheus text exposition. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
