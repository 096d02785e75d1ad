/**
 * RedisHealth against a real redis-server: a command Redis rejects (here a script's error reply)
 * says nothing about the connection, so health stays up, but it is logged, once a minute per
 * message, where before it was only counted.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterStateConfig } from '../../src/cluster/config.ts';
import { createRedisClient, type RedisClient } from '../../src/cluster/redis-connection.ts';
import { RedisHealth } from '../../src/cluster/redis-health.ts';
import { RedisProcess, waitFor } from './support/redis-process.ts';

let redis: RedisProcess;
let client: RedisClient;

beforeAll(async () => {
  redis = await RedisProcess.start();
  client = createRedisClient(parseClusterStateConfig({ url: redis.url }), 'command', 'health-test');
}, 20_000);

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe('RedisHealth', () => {
  it('logs a rejected command once per message and stays healthy', async () => {
    const { logger, lines } = capturingLogger();
    const health = new RedisHealth(client, 60_000, 500, logger);
    try {
      await waitFor(async () => (await health.probe()) === true);
      const rejected = async (message: string): Promise<unknown> =>
        client.eval(`return redis.error_reply('${message}')`, 0).then(
          () => null,
          (err: unknown) => err,
        );
      for (const message of ['ERR kvedge-test-a', 'ERR kvedge-test-a', 'ERR kvedge-test-b']) {
        health.reportFailure(await rejected(message));
      }
      await new Promise((resolve) => setImmediate(resolve));
      const warnings = lines.filter((l) => l['msg'] === 'redis rejected a command');
      expect(warnings.map((l) => l['err'])).toEqual(['ERR kvedge-test-a', 'ERR kvedge-test-b']);
      expect(warnings.every((l) => l['level'] === 40)).toBe(true);
      expect(health.healthy).toBe(true);
      expect(health.degradedTransitions).toBe(0);
    } finally {
      health.close();
    }
  });
});
