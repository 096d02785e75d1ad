/**
 * Real `redis-server` processes for cluster-state tests: each test starts its own servers on free
 * ports (no persistence, in a temp dir), so it can kill, restart and fail them over without
 * touching data it does not own. Never uses 6379.
 *
 * ```ts
 * const redis = await RedisProcess.start();
 * await redis.kill();      // kill -9
 * await redis.restart();   // same port, empty dataset
 * await redis.stop();
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../../support/free-port.ts';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Sends one inline command on a fresh socket and returns the raw reply (or null on failure). */
export function rawCommand(port: number, command: string, timeoutMs = 500): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (value: string | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.once('error', () => done(null));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.endsWith('\r\n')) done(reply);
    });
    socket.once('connect', () => socket.write(`${command}\r\n`));
  });
}

/** Waits until `port` answers PING with PONG. */
export async function waitForPing(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await rawCommand(port, 'PING'))?.startsWith('+PONG')) return;
    await delay(25);
  }
  throw new Error(`redis on port ${port} did not answer PING within ${timeoutMs} ms`);
}

export interface RedisProcessOptions {
  /** Default: a free port. */
  readonly port?: number;
  /** Extra `redis-server` arguments, e.g. `['--replicaof', '127.0.0.1', '7000']`. */
  readonly args?: readonly string[];
}

export class RedisProcess {
  readonly port: number;
  readonly dir: string;
  readonly #args: readonly string[];
  #child: ChildProcess | null = null;

  private constructor(port: number, dir: string, args: readonly string[]) {
    this.port = port;
    this.dir = dir;
    this.#args = args;
  }

  static async start(options: RedisProcessOptions = {}): Promise<RedisProcess> {
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'kvedge-redis-'));
    const server = new RedisProcess(port, dir, options.args ?? []);
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  /** `kill -9`: no shutdown, clients see their sockets drop. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    live.delete(child);
  }

  /** Starts the server again on the same port, with an empty dataset. */
  async restart(): Promise<void> {
    await this.kill();
    await this.#spawn();
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--protected-mode',
      'no',
      ...this.#args,
    ];
    this.#child = spawnTracked('redis-server', args);
    await waitForPing(this.port);
  }
}

export interface SentinelSetupOptions {
  /** Sentinels to run (1..3). Default 1. */
  readonly sentinels?: number;
  /** `down-after-milliseconds`. Default 600. */
  readonly downAfterMs?: number;
  /** `failover-timeout`. Default 2000. */
  readonly failoverTimeoutMs?: number;
  readonly masterName?: string;
}

/** A primary, one replica and 1-3 sentinels tuned to fail over within a few seconds. */
export class SentinelSetup {
  readonly masterName: string;
  readonly primary: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinelPorts: readonly number[];
  readonly #sentinels: ChildProcess[];
  readonly #dirs: string[];

  private constructor(
    masterName: string,
    primary: RedisProcess,
    replica: RedisProcess,
    sentinelPorts: number[],
    sentinels: ChildProcess[],
    dirs: string[],
  ) {
    this.masterName = masterName;
    this.primary = primary;
    this.replica = replica;
    this.sentinelPorts = sentinelPorts;
    this.#sentinels = sentinels;
    this.#dirs = dirs;
  }

  static async start(options: SentinelSetupOptions = {}): Promise<SentinelSetup> {
    const count = options.sentinels ?? 1;
    if (count < 1 || count > 3) throw new RangeError('1..3 sentinels');
    const masterName = options.masterName ?? 'kvedge-test';
    const primary = await RedisProcess.start();
    const replica = await RedisProcess.start({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
    await waitFor(async () =>
      (await rawCommand(replica.port, 'INFO replication'))?.includes('master_link_status:up'),
    );
    const quorum = Math.floor(count / 2) + 1;
    const ports: number[] = [];
    const children: ChildProcess[] = [];
    const dirs: string[] = [];
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'kvedge-sentinel-'));
      const file = join(dir, 'sentinel.conf');
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primary.port} ${quorum}`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 600}`,
          `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 2000}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      children.push(spawnTracked('redis-server', [file, '--sentinel']));
      ports.push(port);
      dirs.push(dir);
      await waitForPing(port);
    }
    // Sentinels must have discovered the replica before a failover can promote it.
    for (const port of ports) {
      await waitFor(async () =>
        (await rawCommand(port, `SENTINEL replicas ${masterName}`, 1000))?.includes(String(replica.port)),
      );
    }
    return new SentinelSetup(masterName, primary, replica, ports, children, dirs);
  }

  get sentinels(): { host: string; port: number }[] {
    return this.sentinelPorts.map((port) => ({ host: '127.0.0.1', port }));
  }

  /** Port of the primary as the first sentinel reports it. */
  async primaryPort(): Promise<number | null> {
    const reply = await rawCommand(
      this.sentinelPorts[0]!,
      `SENTINEL get-master-addr-by-name ${this.masterName}`,
    );
    const match = reply?.match(/\$\d+\r\n([^\r]+)\r\n\$\d+\r\n(\d+)\r\n/);
    return match ? Number(match[2]) : null;
  }

  /** Kills the primary (kill -9) and waits until the sentinels have promoted the replica. */
  async failover(timeoutMs = 15_000): Promise<void> {
    await this.primary.kill();
    await waitFor(async () => (await this.primaryPort()) === this.replica.port, timeoutMs);
    await waitFor(
      async () => (await rawCommand(this.replica.port, 'ROLE'))?.includes('master') ?? false,
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    for (const child of this.#sentinels) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
      live.delete(child);
    }
    await this.primary.stop();
    await this.replica.stop();
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** A Redis Cluster of `masters` primaries (no replicas), all slots assigned. */
export class RedisClusterSetup {
  readonly nodes: readonly RedisProcess[];

  private constructor(nodes: RedisProcess[]) {
    this.nodes = nodes;
  }

  static async start(masters = 3): Promise<RedisClusterSetup> {
    const nodes: RedisProcess[] = [];
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await RedisProcess.start({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
          ],
        }),
      );
    }
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { stdio: 'ignore' },
      );
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create: ${code}`)),
      );
    });
    for (const node of nodes) {
      await waitFor(async () => (await rawCommand(node.port, 'CLUSTER INFO'))?.includes('cluster_state:ok'));
    }
    return new RedisClusterSetup(nodes);
  }

  get addresses(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.stop();
  }
}

/** Polls `check` until it returns true. */
export async function waitFor(
  check: () => boolean | undefined | Promise<boolean | undefined>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(intervalMs);
  }
}

function spawnTracked(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore' });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}
