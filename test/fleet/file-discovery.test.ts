import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FileDiscovery,
  FleetFileError,
  parseFleetFile,
  readFleetFile,
  toFleetFileEndpoint,
  writeFleetFile,
} from '../../src/fleet/discovery/file-discovery.ts';
import type { EndpointInfo } from '../../src/fleet/types.ts';
import { nextEvent, sleep } from './support/wait.ts';

let directory: string;
const open: FileDiscovery[] = [];

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'kvedge-fleet-'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((discovery) => discovery.close()));
  await rm(directory, { recursive: true, force: true });
});

function discoveryFor(
  path: string,
  options: { watch?: boolean; pollIntervalMs?: number } = {},
): FileDiscovery {
  const discovery = new FileDiscovery({ path, debounceMs: 5, ...options });
  open.push(discovery);
  return discovery;
}

const ids = (endpoints: readonly EndpointInfo[]): string[] => endpoints.map((e) => e.id);

describe('fleet file format', () => {
  it('round-trips endpoints through writeFleetFile and readFleetFile (YAML and JSON)', async () => {
    const entries = [
      {
        address: '127.0.0.1:8100',
        kvEvents: 'tcp://127.0.0.1:5557',
        replay: 'tcp://127.0.0.1:5558',
        labels: { 'llm-d.ai/role': 'decode' },
        models: ['llama', 'llama-lora-a'],
      },
      { address: '[::1]:8101' },
    ];
    for (const name of ['fleet.yaml', 'fleet.json']) {
      const path = join(directory, name);
      await writeFleetFile(path, entries);
      const endpoints = await readFleetFile(path);
      expect(endpoints[0]).toEqual({
        id: '127.0.0.1:8100',
        host: '127.0.0.1',
        port: 8100,
        labels: { 'llm-d.ai/role': 'decode' },
        models: ['llama', 'llama-lora-a'],
        kvEventsEndpoint: 'tcp://127.0.0.1:5557',
        kvReplayEndpoint: 'tcp://127.0.0.1:5558',
      });
      expect(endpoints.map(toFleetFileEndpoint)).toEqual(entries);
    }
  });

  it("accepts llm-d's file-discovery layout (host in address, port separate)", () => {
    const text =
      'endpoints:\n  - name: vllm-0\n    namespace: default\n    address: "10.0.0.1"\n    port: "8000"\n    labels: {a: b}\n';
    expect(parseFleetFile(text, 'x.yaml')).toEqual([
      { id: '10.0.0.1:8000', host: '10.0.0.1', port: 8000, labels: { a: 'b' }, models: [] },
    ]);
  });

  it('explains every problem of an invalid file by path', () => {
    const text = [
      'endpoints:',
      '  - address: 127.0.0.1',
      '  - address: 127.0.0.1:8100',
      '    kvEvents: 127.0.0.1:5557',
      '    labels: {zone: 3}',
      '  - address: 127.0.0.1:8100',
      '    modles: [x]',
    ].join('\n');
    let error: unknown;
    try {
      parseFleetFile(text, '/etc/fleet.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FleetFileError);
    const message = (error as Error).message;
    expect(message).toMatch(/^fleet file \/etc\/fleet.yaml: invalid:/);
    expect(message).toContain('invalid address "127.0.0.1": expected host:port');
    expect(message).toContain('→ at endpoints[0].address');
    expect(message).toContain('expected a ZeroMQ endpoint such as tcp://10.0.0.5:5557');
    expect(message).toContain('→ at endpoints[1].kvEvents');
    expect(message).toContain('→ at endpoints[1].labels.zone');
    expect(message).toContain('Unrecognized key: "modles"');
  });

  it('reports duplicates, empty files, bad syntax and missing files clearly', async () => {
    expect(() => parseFleetFile('endpoints:\n  - address: a:1\n  - address: a:1\n', 'f.yaml')).toThrow(
      'endpoint a:1 is listed twice (also at index 0)',
    );
    expect(() => parseFleetFile('  \n', 'f.yaml')).toThrow(
      'file is empty (write `endpoints: []` for an empty fleet)',
    );
    expect(() => parseFleetFile('{"endpoints": [', 'f.json')).toThrow(/^fleet file f.json: not valid JSON/);
    expect(() => parseFleetFile('endpoints: [a: b: c]', 'f.yaml')).toThrow(
      /^fleet file f.yaml: not valid YAML/,
    );
    await expect(readFleetFile(join(directory, 'absent.yaml'))).rejects.toThrow('file does not exist');
    expect(parseFleetFile('endpoints: []', 'f.yaml')).toEqual([]);
  });

  it('refuses to write invalid entries and leaves the existing file alone', async () => {
    const path = join(directory, 'fleet.yaml');
    await writeFleetFile(path, [{ address: '127.0.0.1:1' }]);
    await expect(writeFleetFile(path, [{ address: 'nope' }])).rejects.toThrow(FleetFileError);
    expect(ids(await readFleetFile(path))).toEqual(['127.0.0.1:1']);
  });
});

describe('FileDiscovery', () => {
  it('picks up in-place edits and atomic renames', async () => {
    const path = join(directory, 'fleet.yaml');
    await writeFleetFile(path, [{ address: '127.0.0.1:8100' }]);
    const discovery = discoveryFor(path, { pollIntervalMs: 0 });
    await discovery.start();
    expect(ids(discovery.current())).toEqual(['127.0.0.1:8100']);

    // In-place rewrite (same inode).
    let change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    await writeFile(path, 'endpoints:\n  - address: 127.0.0.1:8100\n  - address: 127.0.0.1:8101\n');
    expect(ids((await change)[0])).toEqual(['127.0.0.1:8100', '127.0.0.1:8101']);

    // Atomic replacement (new inode), as the simulator does it.
    change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    await writeFleetFile(path, [{ address: '127.0.0.1:8102', kvEvents: 'tcp://127.0.0.1:5557' }]);
    const [endpoints] = await change;
    expect(ids(endpoints)).toEqual(['127.0.0.1:8102']);
    expect(endpoints[0]?.kvEventsEndpoint).toBe('tcp://127.0.0.1:5557');

    // And the watch survives the replacement: a second rename is seen too.
    change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    const staged = join(directory, 'staged.yaml');
    await writeFile(staged, 'endpoints: []\n');
    await rename(staged, path);
    expect((await change)[0]).toEqual([]);
  });

  it('notices changes by polling when file watching is off', async () => {
    const path = join(directory, 'fleet.json');
    await writeFleetFile(path, [{ address: '127.0.0.1:8100' }]);
    const discovery = discoveryFor(path, { watch: false, pollIntervalMs: 20 });
    await discovery.start();
    const change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    await writeFleetFile(path, [{ address: '127.0.0.1:8200' }]);
    expect(ids((await change)[0])).toEqual(['127.0.0.1:8200']);
  });

  it('keeps the last good set when the file turns invalid or disappears, and recovers', async () => {
    const path = join(directory, 'fleet.yaml');
    await writeFleetFile(path, [{ address: '127.0.0.1:8100' }]);
    const discovery = discoveryFor(path, { pollIntervalMs: 50 });
    const changes: string[][] = [];
    discovery.on('change', (endpoints) => changes.push(ids(endpoints)));
    await discovery.start();

    let problem = nextEvent<[Error]>(discovery, 'refreshError');
    await writeFile(path, 'endpoints:\n  - address: not-an-address\n');
    const [error] = await problem;
    expect(error).toBeInstanceOf(FleetFileError);
    expect(error.message).toContain(`fleet file ${path}: invalid:`);
    expect(error.message).toContain('invalid address "not-an-address": expected host:port');
    expect(ids(discovery.current())).toEqual(['127.0.0.1:8100']);

    problem = nextEvent<[Error]>(discovery, 'refreshError');
    await rm(path);
    expect((await problem)[0].message).toContain('file does not exist');
    expect(ids(discovery.current())).toEqual(['127.0.0.1:8100']);

    const change = nextEvent(discovery, 'change');
    await writeFleetFile(path, [{ address: '127.0.0.1:8101' }]);
    await change;
    expect(changes).toEqual([['127.0.0.1:8100'], ['127.0.0.1:8101']]);
  });

  it('does not emit a change when the file is rewritten with the same endpoints', async () => {
    const path = join(directory, 'fleet.yaml');
    await writeFleetFile(path, [{ address: '127.0.0.1:8100', labels: { a: 'b' } }]);
    const discovery = discoveryFor(path, { pollIntervalMs: 20 });
    await discovery.start();
    let changes = 0;
    discovery.on('change', () => changes++);
    await writeFile(path, '# reformatted\nendpoints: [{labels: {a: b}, address: "127.0.0.1:8100"}]\n');
    await discovery.reload();
    await sleep(60);
    expect(changes).toBe(0);
  });

  it('fails to start on an invalid file with a clear error', async () => {
    const path = join(directory, 'fleet.yaml');
    await writeFile(path, 'endpoint: []\n');
    await expect(discoveryFor(path).start()).rejects.toThrow(
      /fleet file .*fleet.yaml: invalid:[\s\S]*Unrecognized key: "endpoint"/,
    );
    await expect(discoveryFor(join(directory, 'missing.yaml')).start()).rejects.toThrow(
      'file does not exist',
    );
  });
});
