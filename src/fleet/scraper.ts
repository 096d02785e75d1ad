/**
 * Per-endpoint polling of `GET /metrics` (engine load, every 50 ms by default, like llm-d's
 * `--refresh-metrics-interval`) and `GET /v1/models` (served base models and LoRA adapters,
 * every 5 s), with health tracking.
 *
 * Health: an endpoint is unhealthy until its first successful metrics scrape, becomes unhealthy
 * after `failureThreshold` consecutive failed scrapes (transport error, timeout, non-200 status,
 * unparsable body), and healthy again on the next success. Missing metric names are not failures
 * (the server answered); they are reported in `extractErrors` and leave the affected values to
 * go stale, which the admission check treats as saturated (see `staleness.ts`).
 *
 * Scrapes of one endpoint never overlap: the next one is scheduled when the previous finished,
 * keeping a fixed rate while scrapes are faster than the interval.
 */
import { Agent, type Dispatcher } from 'undici';
import { z } from 'zod';
import { EngineMetricsMapper } from './engine-metrics.ts';
import { parsePrometheusText } from './prometheus-text.ts';
import { routerClock, type RouterClock } from './router-clock.ts';
import type { EndpointInfo, EndpointMetrics } from './types.ts';
import { formatHostPort } from './discovery/endpoint-info.ts';

export interface ScraperOptions {
  /** Metrics scrape interval. Default 50 ms. */
  readonly intervalMs?: number;
  /** Timeout of one request, headers and body included. Default 1000 ms. */
  readonly timeoutMs?: number;
  /** `/v1/models` poll interval; 0 disables polling. Default 5000 ms. */
  readonly modelsIntervalMs?: number;
  /** Consecutive failed scrapes that make an endpoint unhealthy. Default 3. */
  readonly failureThreshold?: number;
  /** Default `/metrics`. */
  readonly metricsPath?: string;
  /** Default `/v1/models`. */
  readonly modelsPath?: string;
  /** Default `http`. */
  readonly scheme?: 'http' | 'https';
  /**
   * HTTP client; share one {@link createScrapeAgent} across scrapers. When omitted the scraper
   * creates its own and closes it on `stop()`.
   */
  readonly dispatcher?: Dispatcher;
  /** Metric-name mapping; default: built-in engine configs. */
  readonly mapper?: EngineMetricsMapper;
  readonly clock?: RouterClock;
}

/** What the scraper currently knows about its endpoint. Immutable; replaced on every change. */
export interface EndpointScrapeState {
  readonly healthy: boolean;
  /** Last extracted metrics (null until a scrape yielded any). */
  readonly metrics: EndpointMetrics | null;
  /** Declared models plus those learned from `/v1/models` (base models and LoRA adapters). */
  readonly servedModels: readonly string[];
  readonly consecutiveFailures: number;
  /** Why the last metrics scrape failed; null after a success. */
  readonly lastError: string | null;
  /** Configured metrics the last successful scrape did not provide. */
  readonly extractErrors: readonly string[];
  /** Why the last `/v1/models` poll failed; null after a success. */
  readonly modelsError: string | null;
}

/** Which parts of the state a notification is about. */
export interface ScrapeChanges {
  readonly metrics: boolean;
  readonly health: boolean;
  readonly models: boolean;
}

export type ScrapeListener = (state: EndpointScrapeState, changes: ScrapeChanges) => void;

/** A keep-alive HTTP agent sized for scraping (two connections per endpoint: metrics + models). */
export function createScrapeAgent(): Agent {
  return new Agent({ connections: 2, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });
}

/** Parser filter for endpoints whose engine type has no config: read nothing. */
const NO_NAMES: ReadonlySet<string> = new Set();

const modelsResponseSchema = z.object({
  data: z.array(z.object({ id: z.string().min(1) })),
});

/** Polls one endpoint. */
export class EndpointScraper {
  readonly info: EndpointInfo;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #modelsIntervalMs: number;
  readonly #failureThreshold: number;
  readonly #metricsPath: string;
  readonly #modelsPath: string;
  readonly #origin: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #mapper: EngineMetricsMapper;
  readonly #clock: RouterClock;
  readonly #engineType: string;
  readonly #metricNames: ReadonlySet<string> | undefined;
  readonly #listener: ScrapeListener;
  #stopped = false;
  #stopping: Promise<void> | undefined;
  /** Requests in progress, aborted by stop(). */
  readonly #requests = new Set<AbortController>();
  #state: EndpointScrapeState;
  #metricsTimer: NodeJS.Timeout | undefined;
  #modelsTimer: NodeJS.Timeout | undefined;
  #metricsInFlight: Promise<void> | undefined;
  #modelsInFlight: Promise<void> | undefined;
  #started = false;

  /**
   * @param initial state to continue from (health, metrics, models), when a scraper replaces
   *   another for the same endpoint.
   */
  constructor(
    info: EndpointInfo,
    options: ScraperOptions,
    listener: ScrapeListener,
    initial?: EndpointScrapeState,
  ) {
    this.info = info;
    this.#intervalMs = options.intervalMs ?? 50;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#modelsIntervalMs = options.modelsIntervalMs ?? 5000;
    this.#failureThreshold = Math.max(1, options.failureThreshold ?? 3);
    this.#metricsPath = options.metricsPath ?? '/metrics';
    this.#modelsPath = options.modelsPath ?? '/v1/models';
    this.#origin = `${options.scheme ?? 'http'}://${formatHostPort(info.host, info.port)}`;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? createScrapeAgent();
    this.#mapper = options.mapper ?? new EngineMetricsMapper();
    this.#clock = options.clock ?? routerClock;
    this.#engineType = this.#mapper.engineTypeOf(info.labels);
    this.#metricNames = this.#mapper.hasEngine(this.#engineType)
      ? this.#mapper.metricNames(this.#engineType)
      : undefined;
    this.#listener = listener;
    this.#state = initial ?? {
      healthy: false,
      metrics: null,
      servedModels: info.models,
      consecutiveFailures: 0,
      lastError: null,
      extractErrors: [],
      modelsError: null,
    };
  }

  get state(): EndpointScrapeState {
    return this.#state;
  }

  /** Engine type the endpoint's metrics are read as. */
  get engineType(): string {
    return this.#engineType;
  }

  /** Starts polling: a metrics scrape and a models poll right away, then on their intervals. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    void this.#metricsLoop();
    if (this.#modelsIntervalMs > 0) void this.#modelsLoop();
  }

  /** Stops polling, aborts requests in progress and waits for them to settle. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true;
      for (const request of this.#requests) request.abort(new Error('scraper stopped'));
      clearTimeout(this.#metricsTimer);
      clearTimeout(this.#modelsTimer);
      await Promise.allSettled([this.#metricsInFlight, this.#modelsInFlight]);
      if (this.#ownsDispatcher) await this.#dispatcher.destroy();
    })();
    return this.#stopping;
  }

  /** Runs one metrics scrape now, or returns the one already in progress. */
  scrapeMetrics(): Promise<void> {
    this.#metricsInFlight ??= this.#scrapeMetricsOnce().finally(() => {
      this.#metricsInFlight = undefined;
    });
    return this.#metricsInFlight;
  }

  /** Polls `/v1/models` now, or returns the poll already in progress. */
  refreshModels(): Promise<void> {
    this.#modelsInFlight ??= this.#refreshModelsOnce().finally(() => {
      this.#modelsInFlight = undefined;
    });
    return this.#modelsInFlight;
  }

  async #metricsLoop(): Promise<void> {
    if (this.#stopped) return;
    const startedAt = this.#clock();
    await this.scrapeMetrics();
    if (this.#stopped) return;
    const delay = Math.max(0, this.#intervalMs - (this.#clock() - startedAt));
    this.#metricsTimer = setTimeout(() => void this.#metricsLoop(), delay);
    this.#metricsTimer.unref();
  }

  async #modelsLoop(): Promise<void> {
    if (this.#stopped) return;
    await this.refreshModels();
    if (this.#stopped) return;
    // Until the first answer (a pod still loading its model), ask again sooner.
    const delay =
      this.#state.modelsError === null ? this.#modelsIntervalMs : Math.min(this.#modelsIntervalMs, 1000);
    this.#modelsTimer = setTimeout(() => void this.#modelsLoop(), delay);
    this.#modelsTimer.unref();
  }

  async #scrapeMetricsOnce(): Promise<void> {
    if (this.#stopped) return;
    let samples;
    try {
      const text = await this.#get(this.#metricsPath, 'text/plain;version=0.0.4;q=1,*/*;q=0.1');
      samples = parsePrometheusText(text, { names: this.#metricNames ?? NO_NAMES });
    } catch (error) {
      if (!this.#stopped) this.#recordFailure(error as Error);
      return;
    }
    if (this.#stopped) return;

    const previous = this.#state;
    let metrics = previous.metrics;
    let extractErrors: readonly string[];
    if (this.#metricNames === undefined) {
      extractErrors = [`no engine metrics config for engine type ${JSON.stringify(this.#engineType)}`];
    } else {
      const extraction = this.#mapper.extract(samples, this.#engineType, previous.metrics, this.#clock());
      metrics = extraction.metrics;
      extractErrors = extraction.errors;
    }
    const recovered = !previous.healthy;
    this.#setState(
      { ...previous, healthy: true, metrics, consecutiveFailures: 0, lastError: null, extractErrors },
      { metrics: metrics !== previous.metrics, health: recovered, models: false },
    );
    // A pod that comes back may have restarted with other adapters.
    if (recovered && this.#started && this.#modelsIntervalMs > 0) void this.refreshModels();
  }

  #recordFailure(error: Error): void {
    const previous = this.#state;
    const consecutiveFailures = previous.consecutiveFailures + 1;
    const healthy = previous.healthy && consecutiveFailures < this.#failureThreshold;
    this.#setState(
      { ...previous, healthy, consecutiveFailures, lastError: describeError(error) },
      { metrics: false, health: healthy !== previous.healthy, models: false },
    );
  }

  async #refreshModelsOnce(): Promise<void> {
    if (this.#stopped) return;
    let ids: string[];
    try {
      const text = await this.#get(this.#modelsPath, 'application/json');
      const parsed = modelsResponseSchema.safeParse(JSON.parse(text));
      if (!parsed.success)
        throw new Error(`unexpected ${this.#modelsPath} response: ${z.prettifyError(parsed.error)}`);
      ids = parsed.data.data.map((model) => model.id);
    } catch (error) {
      if (this.#stopped) return;
      this.#setState(
        { ...this.#state, modelsError: describeError(error as Error) },
        { metrics: false, health: false, models: false },
      );
      return;
    }
    if (this.#stopped) return;
    const servedModels = [...new Set([...this.info.models, ...ids])];
    const previous = this.#state;
    const changed =
      servedModels.length !== previous.servedModels.length ||
      servedModels.some((model, index) => model !== previous.servedModels[index]);
    this.#setState(
      { ...previous, servedModels: changed ? servedModels : previous.servedModels, modelsError: null },
      { metrics: false, health: false, models: changed },
    );
  }

  async #get(path: string, accept: string): Promise<string> {
    // One controller per request, aborted by its own timer or by stop(). (Composing signals
    // with AbortSignal.any at 20 requests a second per endpoint would pile up listeners on the
    // long-lived stop signal.)
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException(`no answer within ${this.#timeoutMs} ms`, 'TimeoutError')),
      this.#timeoutMs,
    );
    this.#requests.add(controller);
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path,
        method: 'GET',
        headers: { accept },
        signal: controller.signal,
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw new Error(`GET ${path} answered HTTP ${response.statusCode}`);
      }
      return await response.body.text();
    } finally {
      clearTimeout(timer);
      this.#requests.delete(controller);
    }
  }

  #setState(state: EndpointScrapeState, changes: ScrapeChanges): void {
    this.#state = state;
    this.#listener(state, changes);
  }
}

function describeError(error: Error): string {
  if (
    error.name === 'TimeoutError' ||
    error.name === 'HeadersTimeoutError' ||
    error.name === 'BodyTimeoutError'
  ) {
    return `timed out (${error.message})`;
  }
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
