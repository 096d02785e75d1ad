/**
 * Multi-threaded acceptors: N worker threads each run their own EdgeServer (own uWS App, own
 * event loop) on the same port, and the kernel spreads incoming connections between them
 * (SO_REUSEPORT). Each thread builds its own RoutingService from a factory module; state the
 * threads must agree on is the factory's business (SharedArrayBuffers in `routingOptions` are
 * shared, not copied).
 *
 * Facts this relies on (bundled uWS 20.30 build):
 * - uSockets sets SO_REUSEPORT only when listening on a non-zero port, so for `port: 0` the
 *   supervisor picks a free port first and every thread listens on it;
 * - a worker must close its uWS app before it exits: terminating a thread that still has uWS
 *   sockets aborts the whole process (libuv "loop close with open handles"). `stop()` asks each
 *   thread to shut down gracefully and only terminates as a last resort. Call `stop()` before
 *   the process exits.
 */
import { once } from 'node:events';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import {
  AggregatorRegistry,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from 'prom-client';
import { resolveEdgeConfig, type EdgeConfigInput } from './edge-config.ts';
import type { RoutingService } from './routing-service.ts';

/** What a routing factory is told about the thread it builds for. */
export interface RoutingFactoryContext {
  readonly threadIndex: number;
  readonly threads: number;
  /** `routingOptions` from the supervisor (structured clone; SharedArrayBuffers are shared). */
  readonly options: unknown;
}

/** The export (`createRoutingService` or default) a routing factory module must provide. */
export type RoutingServiceFactory = (
  context: RoutingFactoryContext,
) => RoutingService | Promise<RoutingService>;

export interface AcceptorThreadsOptions {
  /** Number of acceptor threads (≥ 1). */
  readonly threads: number;
  /** Edge configuration for every thread; `port: 0` picks one free port shared by all. */
  readonly config: EdgeConfigInput;
  /** Absolute path or file: URL of a module exporting a RoutingServiceFactory. */
  readonly routingModule: string;
  /** Passed to the factory in every thread. */
  readonly routingOptions?: unknown;
  /** Extra Node flags for the threads. Default none. */
  readonly execArgv?: string[];
  /** pino level inside the threads. Default `warn`. */
  readonly logLevel?: string;
  /** How long a thread may take to start listening. Default 20000 ms. */
  readonly startTimeoutMs?: number;
}

/** Sent to each thread as workerData. */
export interface AcceptorWorkerData {
  readonly threadIndex: number;
  readonly threads: number;
  readonly config: EdgeConfigInput;
  readonly routingModule: string;
  readonly routingOptions: unknown;
  readonly logLevel: string;
}

export type ThreadMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** Messages between the supervisor and a thread. */
export type ToWorker = { type: 'metrics'; id: number } | { type: 'shutdown'; drainTimeoutMs: number };
export type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'metrics'; id: number; metrics: ThreadMetrics }
  | { type: 'stopped' };

const SOURCE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_ENTRY = new URL(`./acceptor-worker${SOURCE_EXT}`, import.meta.url);

/** Main-thread supervisor of the acceptor threads. */
export class AcceptorThreads {
  private nextRequestId = 0;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly workers: readonly Worker[],
    /** The port every thread listens on. */
    readonly port: number,
    private readonly drainTimeoutMs: number,
  ) {}

  /** Start every thread and resolve once all listen; rejects (after stopping the others) if one fails. */
  static async start(options: AcceptorThreadsOptions): Promise<AcceptorThreads> {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new Error('threads must be ≥ 1');
    const resolved = resolveEdgeConfig(options.config); // fail here, not in N threads
    const host = resolved.host;
    const port = resolved.port || (await freePort(host));
    const execArgv = options.execArgv ?? [];
    const workers: Worker[] = [];
    const started: Promise<void>[] = [];
    for (let i = 0; i < options.threads; i++) {
      const workerData: AcceptorWorkerData = {
        threadIndex: i,
        threads: options.threads,
        config: { ...options.config, host, port },
        routingModule: options.routingModule,
        routingOptions: options.routingOptions,
        logLevel: options.logLevel ?? 'warn',
      };
      const worker = startWorker(workerData, execArgv);
      workers.push(worker);
      started.push(waitListening(worker, options.startTimeoutMs ?? 20_000));
    }
    const supervisor = new AcceptorThreads(workers, port, resolved.drainTimeoutMs);
    const results = await Promise.allSettled(started);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      await supervisor.stop(0);
      throw failure.reason;
    }
    return supervisor;
  }

  get threads(): number {
    return this.workers.length;
  }

  /** Each thread's metrics (prom-client JSON), in thread order. */
  threadMetrics(): Promise<ThreadMetrics[]> {
    return Promise.all(this.workers.map((worker) => this.askMetrics(worker)));
  }

  /** Every thread's metrics summed into one registry (counters, histograms and gauges add up). */
  async metricsRegistry(): Promise<Registry> {
    return AggregatorRegistry.aggregate(await this.threadMetrics());
  }

  /** For the admin server's /metrics. */
  metricsSource(): { contentType: string; metrics(): Promise<string> } {
    return {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: async () => (await this.metricsRegistry()).metrics(),
    };
  }

  /**
   * Ask every thread to shut down (stop accepting, drain up to `drainTimeoutMs`, default: the
   * config's) and wait for the threads to exit. Idempotent.
   */
  stop(drainTimeoutMs: number = this.drainTimeoutMs): Promise<void> {
    this.stopping ??= Promise.all(this.workers.map((w) => stopWorker(w, drainTimeoutMs))).then(
      () => undefined,
    );
    return this.stopping;
  }

  private askMetrics(worker: Worker): Promise<ThreadMetrics> {
    const id = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromWorker): void => {
        if (message.type !== 'metrics' || message.id !== id) return;
        cleanup();
        resolve(message.metrics);
      };
      const onExit = (): void => {
        cleanup();
        reject(new Error('acceptor thread exited'));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.postMessage({ type: 'metrics', id } satisfies ToWorker);
    });
  }
}

/**
 * From compiled JavaScript the entry runs directly. From TypeScript sources the thread needs tsx's
 * loader, and Node 20 ignores `--import tsx` in a worker's execArgv, so a bootstrap registers
 * tsx inside the thread before importing the entry (and, later, the .ts routing module).
 */
function startWorker(workerData: AcceptorWorkerData, execArgv: string[]): Worker {
  if (SOURCE_EXT === '.js') return new Worker(WORKER_ENTRY, { workerData, execArgv });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then(({ register }) => { register(); return import(${JSON.stringify(WORKER_ENTRY.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData, execArgv });
}

function waitListening(worker: Worker, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`acceptor thread not listening after ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: FromWorker): void => {
      if (message.type === 'listening') done();
      else if (message.type === 'failed') done(new Error(`acceptor thread failed: ${message.message}`));
    };
    const onError = (error: Error): void => done(error);
    const onExit = (code: number): void => done(new Error(`acceptor thread exited with code ${code}`));
    const done = (error?: Error): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

async function stopWorker(worker: Worker, drainTimeoutMs: number): Promise<void> {
  if (worker.threadId === -1) return; // already exited
  const exited = once(worker, 'exit');
  worker.postMessage({ type: 'shutdown', drainTimeoutMs } satisfies ToWorker);
  // The thread's own drain deadline plus a margin; after that it is stuck and must be terminated.
  const graceMs = drainTimeoutMs + 5_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)),
  );
  const outcome = await Promise.race([exited.then(() => 'exited' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    await worker.terminate();
  }
}

/** A port that is free on `host` right now (uSockets only shares non-zero ports between threads). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
