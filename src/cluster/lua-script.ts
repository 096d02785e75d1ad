/**
 * A Lua script run by SHA, sent in full only when the server does not know it yet (after a
 * restart or a failover to a replica that never saw it). Scripts are what make the multi-key
 * updates here atomic: a reader never sees half of a change.
 */
import { createHash } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-connection.ts';

export type ScriptArg = string | Buffer | number;

export class LuaScript {
  readonly sha: string;
  readonly source: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script; replies come back as strings and numbers. */
  async run(client: RedisClient, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    try {
      return await client.call('EVALSHA', this.#argv(this.sha, keys, args));
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.call('EVAL', this.#argv(this.source, keys, args));
    }
  }

  /** Runs the script; string replies come back as Buffers (binary-safe). */
  async runBuffer(
    client: RedisClient,
    keys: readonly string[],
    args: readonly ScriptArg[],
  ): Promise<unknown> {
    try {
      return await client.callBuffer('EVALSHA', this.#argv(this.sha, keys, args));
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return client.callBuffer('EVAL', this.#argv(this.source, keys, args));
    }
  }

  /** One argument array (no spreading: writes can carry hundreds of thousands of arguments). */
  #argv(script: string, keys: readonly string[], args: readonly ScriptArg[]): ScriptArg[] {
    const argv: ScriptArg[] = [script, keys.length];
    for (const key of keys) argv.push(key);
    for (const arg of args) argv.push(arg);
    return argv;
  }

  /**
   * Queues the script on a pipeline by full source (`EVAL`): a pipeline cannot retry one command
   * after `NOSCRIPT`, and the scripts that go through pipelines are small.
   */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly ScriptArg[]): void {
    pipeline.eval(this.source, keys.length, ...keys, ...args);
  }
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
