/**
 * Entry point of one acceptor thread (started by AcceptorThreads): builds the RoutingService from
 * the factory module, runs an EdgeServer on the shared port, answers metrics requests, and shuts
 * down cleanly on request (uWS sockets must be closed before the thread exits).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { AcceptorWorkerData, FromWorker, RoutingServiceFactory, ToWorker } from './acceptor-threads.ts';
import { EdgeMetrics } from './edge-metrics.ts';
import { EdgeServer } from './server.ts';

const data = workerData as AcceptorWorkerData;
const port = parentPort!;
const post = (message: FromWorker): void => port.postMessage(message);

async function main(): Promise<void> {
  const logger = pino({ name: 'kvedge-edge', level: data.logLevel }).child({ thread: data.threadIndex });
  const module = (await import(data.routingModule)) as {
    createRoutingService?: RoutingServiceFactory;
    default?: RoutingServiceFactory;
  };
  const factory = module.createRoutingService ?? module.default;
  if (typeof factory !== 'function') {
    throw new Error(`${data.routingModule} exports no createRoutingService or default factory`);
  }
  const routing = await factory({
    threadIndex: data.threadIndex,
    threads: data.threads,
    options: data.routingOptions,
  });
  // Routing metrics registered by the factory go out with the edge metrics of this thread.
  const metrics = new EdgeMetrics(routing.metricsRegistry);
  const server = await EdgeServer.start({ config: data.config, routing, logger, metrics });

  port.on('message', (message: ToWorker) => {
    if (message.type === 'metrics') {
      void server.metrics.registry
        .getMetricsAsJSON()
        .then((metrics) => post({ type: 'metrics', id: message.id, metrics }));
    } else if (message.type === 'shutdown') {
      void (async () => {
        await server.shutdown(message.drainTimeoutMs);
        await routing.close?.();
        post({ type: 'stopped' });
        port.close();
      })();
    }
  });
  post({ type: 'listening', port: server.port });
}

main().catch((error: unknown) => {
  post({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  port.close();
});
