/**
 * Configuration errors: `Router.start` rejects a scheduler config naming an unknown plugin type
 * (listing the valid ones) or a bad weight before it opens any socket; `kvedge serve` exits
 * non-zero with a clear message for an unknown `--policy` and for a bad `--config` file.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerConfigError } from '../../src/scheduler/config/config-error.ts';
import type { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { freePort } from '../support/free-port.ts';
import { startFleet, startRouter } from './support/stack.ts';

const REPO = new URL('../../', import.meta.url).pathname;

let fleet: SimFleet;

beforeAll(async () => {
  fleet = await startFleet({ pods: 2 });
}, 30_000);

afterAll(async () => {
  await fleet?.stop();
});

/** Whether anything accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const profileWith = (scorer: string, weight: string) => `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: ${scorer}
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: ${scorer}, weight: ${weight}}
  - {pluginRef: prefix-cache-scorer, weight: 3}
`;

describe('Router.start with a bad scheduler config', () => {
  it('rejects an unknown plugin type, listing the valid types, with nothing left listening', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const error = await startRouter(fleet.pods, {
      schedulerConfig: profileWith('nope-scorer', '2'),
      edge: { port },
      adminPort,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SchedulerConfigError);
    const message = (error as Error).message;
    expect(message).toContain("unknown plugin type 'nope-scorer'");
    expect(message).toMatch(/Valid types: .*prefix-cache-scorer/);
    for (const valid of [
      'queue-scorer',
      'kv-cache-utilization-scorer',
      'max-score-picker',
      'round-robin-picker',
    ]) {
      expect(message).toContain(valid);
    }
    expect(await listening(port)).toBe(false);
    expect(await listening(adminPort)).toBe(false);
  });

  it('rejects a negative or non-numeric weight, naming the scorer', async () => {
    for (const weight of ['-1', 'heavy']) {
      const error = await startRouter(fleet.pods, {
        schedulerConfig: profileWith('queue-scorer', weight),
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SchedulerConfigError);
      expect((error as Error).message).toMatch(
        /invalid weight .* for scorer 'queue-scorer' \(expected a number ≥ 0/,
      );
    }
  });

  it('rejects a profile referring to a plugin that is not configured, listing the configured ones', async () => {
    const yaml = `plugins:
- type: queue-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 3}
`;
    const error = await startRouter(fleet.pods, { schedulerConfig: yaml }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SchedulerConfigError);
    expect((error as Error).message).toMatch(
      /unknown pluginRef 'prefix-cache-scorer'.*Configured plugins: queue-scorer/s,
    );
  });

  // Router.start undoes what it started when a later step fails: the caller has no handle to stop it.
  it('leaves nothing listening when the admin port cannot be bound', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const adminPort = (blocker.address() as net.AddressInfo).port;
    const port = await freePort();
    try {
      const error = await startRouter(fleet.pods, { edge: { port }, adminPort }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(await listening(port)).toBe(false);
    } finally {
      blocker.close();
    }
  });
});

/** Run `kvedge` from the sources with a hard timeout. */
function kvedge(
  args: readonly string[],
  timeoutMs = 25_000,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/kvedge.ts', ...args], {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kvedge ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

// Each spawn compiles the CLI's import graph with tsx: run them side by side.
describe.concurrent('kvedge serve with bad options', () => {
  it('exits non-zero for an unknown --policy, listing the valid names', async () => {
    const { code, stderr } = await kvedge(['serve', '--policy', 'nope', '--port', '0', '--admin-port', '0']);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toMatch(/'--policy <name>' argument 'nope' is invalid/);
    expect(stderr).toMatch(/llm-d-well-lit, llm-d-precise, round-robin, random, least-load/);
  });

  it('exits with status 2 for a --config naming an unknown plugin type', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kvedge-e2e-'));
    try {
      const file = join(dir, 'bad.yaml');
      await writeFile(file, profileWith('nope-scorer', '2'));
      const { code, stderr } = await kvedge([
        'serve',
        '--config',
        file,
        '--endpoints',
        fleet.pods.map((p) => p.address).join(','),
        '--port',
        '0',
        '--admin-port',
        '0',
      ]);
      expect(code).toBe(2);
      expect(stderr).toMatch(
        /^kvedge: plugins\[0\] 'nope-scorer': unknown plugin type 'nope-scorer'\. Valid types: /m,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
