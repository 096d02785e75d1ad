/**
 * The Redis that router replicas share during a live run: the one `--redis-url` names, or a
 * private `redis-server` started on a free port (never 6379: the default-port Redis may belong to
 * someone else), without persistence, stopped with the run. A private server is also killed if
 * the benchmark is interrupted, so no `redis-server` outlives it.
 */
import { RedisProcess } from '../../test/cluster/support/redis-process.ts';

export interface BenchRedis {
  readonly url: string;
  /** True when this run started the server (and will stop it). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** `url` when given (left running at the end), else a private `redis-server`. */
export async function startBenchRedis(url?: string): Promise<BenchRedis> {
  if (url !== undefined) return { url, owned: false, stop: async () => {} };
  const server = await RedisProcess.start();
  const onSignal = (signal: NodeJS.Signals): void => {
    void server.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  for (const signal of SIGNALS) process.once(signal, onSignal);
  return {
    url: server.url,
    owned: true,
    stop: async () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
      await server.stop();
    },
  };
}
