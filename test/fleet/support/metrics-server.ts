/**
 * A real HTTP server standing in for a vLLM pod's `/metrics` and `/v1/models`, whose answers a
 * test can change, delay or break, and which records how it was called.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePodServer {
  readonly host: string;
  readonly port: number;
  /** Exposition text served on /metrics. */
  metricsText: string;
  /** Model ids served on /v1/models. */
  models: string[];
  /** Status code for /metrics (200 = serve `metricsText`). */
  metricsStatus: number;
  /** Delay before answering /metrics. */
  metricsDelayMs: number;
  /** When true, /metrics requests are accepted and never answered. */
  hangMetrics: boolean;
  /** Number of /metrics requests received. */
  readonly metricsRequests: number;
  /** Number of /v1/models requests received. */
  readonly modelsRequests: number;
  /** Highest number of /metrics requests in progress at once. */
  readonly maxConcurrentMetrics: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** Starts a fake pod on 127.0.0.1 with a free port. */
export async function startFakePod(
  initial: { metricsText?: string; models?: string[] } = {},
): Promise<FakePodServer> {
  let metricsRequests = 0;
  let modelsRequests = 0;
  let concurrentMetrics = 0;
  let maxConcurrentMetrics = 0;
  const hanging = new Set<ServerResponse>();

  const server: Server = createServer((request, response) => {
    if (request.url === '/metrics') {
      metricsRequests++;
      concurrentMetrics++;
      maxConcurrentMetrics = Math.max(maxConcurrentMetrics, concurrentMetrics);
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        concurrentMetrics--;
      };
      response.on('close', finish);
      if (pod.hangMetrics) {
        hanging.add(response);
        response.on('close', () => hanging.delete(response));
        return;
      }
      const answer = (): void => {
        if (pod.metricsStatus !== 200) {
          response.writeHead(pod.metricsStatus, { 'content-type': 'text/plain' }).end('unavailable');
        } else {
          response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(pod.metricsText);
        }
        finish();
      };
      if (pod.metricsDelayMs > 0) setTimeout(answer, pod.metricsDelayMs);
      else answer();
      return;
    }
    if (request.url === '/v1/models') {
      modelsRequests++;
      const data = pod.models.map((id) => ({ id, object: 'model', owned_by: 'vllm' }));
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ object: 'list', data }));
      return;
    }
    response.writeHead(404).end();
  });

  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const pod: FakePodServer = {
    host: '127.0.0.1',
    port,
    metricsText: initial.metricsText ?? '',
    models: initial.models ?? [],
    metricsStatus: 200,
    metricsDelayMs: 0,
    hangMetrics: false,
    get metricsRequests() {
      return metricsRequests;
    },
    get modelsRequests() {
      return modelsRequests;
    },
    get maxConcurrentMetrics() {
      return maxConcurrentMetrics;
    },
    get connections() {
      return connections;
    },
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return pod;
}

/** A minimal vLLM exposition with the given load values. */
export function vllmMetrics(values: {
  waiting: number;
  running: number;
  kv: number;
  blockSize?: number;
  numBlocks?: number;
}): string {
  const model = 'model_name="m"';
  return [
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{engine="0",${model}} ${values.running}`,
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{engine="0",${model}} ${values.waiting}`,
    '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc{engine="0",${model}} ${values.kv}`,
    '# TYPE vllm:cache_config_info gauge',
    `vllm:cache_config_info{block_size="${values.blockSize ?? 16}",engine="0",num_gpu_blocks="${values.numBlocks ?? 1000}"} 1.0`,
    '',
  ].join('\n');
}
