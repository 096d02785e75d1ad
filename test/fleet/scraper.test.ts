import { afterEach, describe, expect, it } from 'vitest';
import { createEndpointInfo } from '../../src/fleet/discovery/endpoint-info.ts';
import { routerClock } from '../../src/fleet/router-clock.ts';
import {
  createScrapeAgent,
  EndpointScraper,
  type EndpointScrapeState,
  type ScrapeChanges,
  type ScraperOptions,
} from '../../src/fleet/scraper.ts';
import { isMetricsStale } from '../../src/fleet/staleness.ts';
import type { EndpointInfo } from '../../src/fleet/types.ts';
import { startFakePod, vllmMetrics, type FakePodServer } from './support/metrics-server.ts';
import { sleep, waitFor } from './support/wait.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pod(initial: Parameters<typeof startFakePod>[0] = {}): Promise<FakePodServer> {
  const server = await startFakePod({
    metricsText: vllmMetrics({ waiting: 1, running: 2, kv: 0.25 }),
    ...initial,
  });
  cleanups.push(() => server.close());
  return server;
}

interface Recorded {
  scraper: EndpointScraper;
  updates: Array<{ state: EndpointScrapeState; changes: ScrapeChanges }>;
}

function scrape(info: EndpointInfo, options: ScraperOptions = {}): Recorded {
  const updates: Recorded['updates'] = [];
  const scraper = new EndpointScraper(
    info,
    { intervalMs: 10, modelsIntervalMs: 0, ...options },
    (state, changes) => updates.push({ state, changes }),
  );
  cleanups.push(() => scraper.stop());
  scraper.start();
  return { scraper, updates };
}

const infoOf = (server: FakePodServer, models: string[] = []): EndpointInfo =>
  createEndpointInfo({ host: server.host, port: server.port, models });

describe('EndpointScraper', () => {
  it('follows the metrics a pod serves and is healthy once it answered', async () => {
    const server = await pod();
    const { scraper } = scrape(infoOf(server));
    expect(scraper.state.healthy).toBe(false);
    await waitFor(() => scraper.state.healthy, 'first successful scrape');
    expect(scraper.state.metrics).toMatchObject({
      waitingQueueSize: 1,
      runningRequestsSize: 2,
      kvCacheUsagePercent: 0.25,
      blockSize: 16,
      numGpuBlocks: 1000,
    });
    expect(scraper.state.extractErrors).toEqual([]);

    server.metricsText = vllmMetrics({ waiting: 9, running: 4, kv: 0.9, numBlocks: 2048 });
    await waitFor(() => scraper.state.metrics?.waitingQueueSize === 9, 'the new load');
    expect(scraper.state.metrics).toMatchObject({
      runningRequestsSize: 4,
      kvCacheUsagePercent: 0.9,
      numGpuBlocks: 2048,
    });
  });

  it('reuses keep-alive connections across scrapes', async () => {
    const server = await pod();
    const agent = createScrapeAgent();
    cleanups.push(() => agent.close());
    scrape(infoOf(server), { dispatcher: agent, intervalMs: 1 });
    await waitFor(() => server.metricsRequests >= 30, 'thirty scrapes');
    // The agent allows two connections per endpoint; without keep-alive there would be 30.
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it('turns unhealthy on the third consecutive failure and recovers on the next success', async () => {
    const server = await pod();
    const { scraper, updates } = scrape(infoOf(server));
    await waitFor(() => scraper.state.healthy, 'healthy');

    server.metricsStatus = 503;
    await waitFor(() => !scraper.state.healthy, 'unhealthy');
    const failures = updates.filter((u) => u.state.lastError !== null);
    // Two failures leave it healthy; the third flips it, and only that update reports a health change.
    expect(
      failures.slice(0, 3).map((u) => [u.state.consecutiveFailures, u.state.healthy, u.changes.health]),
    ).toEqual([
      [1, true, false],
      [2, true, false],
      [3, false, true],
    ]);
    expect(scraper.state.lastError).toBe('GET /metrics answered HTTP 503');
    const lastGood = scraper.state.metrics;

    server.metricsStatus = 200;
    server.metricsText = vllmMetrics({ waiting: 3, running: 3, kv: 0.5 });
    await waitFor(() => scraper.state.healthy, 'recovery');
    expect(scraper.state.consecutiveFailures).toBe(0);
    expect(scraper.state.lastError).toBeNull();
    expect(scraper.state.metrics).not.toBe(lastGood);
    expect(scraper.state.metrics?.waitingQueueSize).toBe(3);
  });

  it('never becomes healthy when the endpoint is unreachable', async () => {
    const server = await pod();
    const info = infoOf(server);
    await server.close();
    const { scraper } = scrape(info);
    await waitFor(() => scraper.state.consecutiveFailures >= 3, 'three failures');
    expect(scraper.state.healthy).toBe(false);
    expect(scraper.state.metrics).toBeNull();
    expect(scraper.state.lastError).toMatch(/ECONNREFUSED/);
  });

  it('times out a hanging scrape, counts it as a failure, and lets metrics go stale', async () => {
    const server = await pod();
    const { scraper } = scrape(infoOf(server), { timeoutMs: 60 });
    await waitFor(() => scraper.state.healthy, 'healthy');
    expect(isMetricsStale(scraper.state.metrics, routerClock())).toBe(false);

    server.hangMetrics = true;
    await waitFor(() => isMetricsStale(scraper.state.metrics, routerClock(), 100), 'stale metrics');
    await waitFor(() => !scraper.state.healthy, 'unhealthy after timeouts');
    expect(scraper.state.lastError).toMatch(/^timed out/);
    // A hung scrape is aborted before the next starts: never two at once.
    expect(server.maxConcurrentMetrics).toBe(1);
  });

  it('never overlaps scrapes of a slow endpoint', async () => {
    const server = await pod();
    server.metricsDelayMs = 80;
    const { scraper } = scrape(infoOf(server), { intervalMs: 5, timeoutMs: 2000 });
    await waitFor(() => server.metricsRequests >= 4, 'four scrapes');
    // Asking for a scrape while one is in progress joins it instead of starting another.
    await Promise.all([scraper.scrapeMetrics(), scraper.scrapeMetrics(), scraper.scrapeMetrics()]);
    expect(server.maxConcurrentMetrics).toBe(1);
    expect(scraper.state.healthy).toBe(true);
  });

  it('counts an unparsable body as a failure and missing metric names as extract errors', async () => {
    const server = await pod({ metricsText: 'vllm:num_requests_waiting{broken 1\n' });
    const { scraper } = scrape(infoOf(server));
    await waitFor(() => scraper.state.consecutiveFailures >= 1, 'a failure');
    expect(scraper.state.lastError).toMatch(/Invalid Prometheus exposition at line 1/);

    server.metricsText = 'vllm:num_requests_waiting 4\nvllm:num_requests_running 1\n';
    await waitFor(() => scraper.state.healthy, 'healthy');
    expect(scraper.state.metrics?.waitingQueueSize).toBe(4);
    expect(scraper.state.extractErrors).toEqual([
      'KV usage: no series matches vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc',
      'cache config: no series matches vllm:cache_config_info',
    ]);
  });

  it('learns served models (base and LoRA) from /v1/models and follows changes', async () => {
    const server = await pod({ models: ['meta-llama/Llama-3.1-8B-Instruct', 'sql-lora'] });
    const { scraper, updates } = scrape(infoOf(server, ['declared-model']), { modelsIntervalMs: 30 });
    expect(scraper.state.servedModels).toEqual(['declared-model']);
    await waitFor(() => scraper.state.servedModels.length === 3, 'models');
    expect(scraper.state.servedModels).toEqual([
      'declared-model',
      'meta-llama/Llama-3.1-8B-Instruct',
      'sql-lora',
    ]);

    server.models = ['meta-llama/Llama-3.1-8B-Instruct'];
    await waitFor(() => scraper.state.servedModels.length === 2, 'adapter unloaded');
    expect(updates.filter((u) => u.changes.models)).toHaveLength(2);
  });

  it('stops polling on stop()', async () => {
    const server = await pod();
    const { scraper } = scrape(infoOf(server));
    await waitFor(() => server.metricsRequests >= 2, 'two scrapes');
    await scraper.stop();
    const count = server.metricsRequests;
    await sleep(50);
    expect(server.metricsRequests).toBe(count);
  });
});

describe('isMetricsStale', () => {
  it('treats missing and old metrics as stale (200 ms default, like llm-d)', () => {
    const metrics = {
      waitingQueueSize: 0,
      runningRequestsSize: 0,
      kvCacheUsagePercent: 0,
      blockSize: null,
      numGpuBlocks: null,
      activeLoras: [],
      waitingLoras: [],
      maxActiveLoras: null,
      updatedAtMs: 1000,
    };
    expect(isMetricsStale(null, 0)).toBe(true);
    expect(isMetricsStale(metrics, 1200)).toBe(false);
    expect(isMetricsStale(metrics, 1201)).toBe(true);
    expect(isMetricsStale(metrics, 1050, 40)).toBe(true);
  });
});
