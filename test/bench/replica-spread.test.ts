import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLive } from '../../bench/live/live-driver.ts';
import { createTargetPicker } from '../../bench/live/replica-spread.ts';
import type { WorkloadRequest } from '../../bench/workloads/types.ts';
import { request, tinyWorkload, tokens } from './fixtures.ts';

/** Two conversations of three turns each: c0t0 → c0t1 → c0t2, c1t0 → c1t1 → c1t2. */
function conversations(): WorkloadRequest[] {
  const out: WorkloadRequest[] = [];
  for (const c of [0, 1]) {
    for (const t of [0, 1, 2]) {
      out.push(
        request(`c${c}t${t}`, t === 0 ? c * 0.01 : 0, tokens(c * 100, 8), 2, {
          ...(t > 0 ? { after: `c${c}t${t - 1}` } : {}),
        }),
      );
    }
  }
  return out;
}

describe('target picker', () => {
  it('deals requests round robin, whatever conversation they belong to', () => {
    const requests = conversations();
    const pick = createTargetPicker(['a', 'b', 'c'], 'request', requests);
    // Issue order of a closed loop: both first turns, then the follow-ups as answers arrive.
    const order = ['c0t0', 'c1t0', 'c0t1', 'c1t1', 'c0t2', 'c1t2'];
    const got = order.map((id) => pick(requests.find((r) => r.id === id)!));
    expect(got).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
    // Each conversation's turns land on different replicas: the case shared state must handle.
    expect(new Set([got[0], got[2], got[4]]).size).toBe(3);
  });

  it('keeps a conversation on the target of its first turn in conversation mode', () => {
    const requests = conversations();
    const pick = createTargetPicker(['a', 'b', 'c'], 'conversation', requests);
    const order = ['c0t0', 'c1t0', 'c0t1', 'c1t1', 'c0t2', 'c1t2'];
    const got = order.map((id) => pick(requests.find((r) => r.id === id)!));
    expect(got).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    // Open-loop requests (no chain) still spread round robin.
    expect(pick(request('x', 0, tokens(1, 4)))).toBe('c');
  });

  it('refuses an empty target list', () => {
    expect(() => createTargetPicker([], 'request', [])).toThrow(/no target/);
  });
});

/** A completions server that answers one token and says which server it is. */
function namedServer(name: string, seen: string[]): Server {
  return createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      seen.push(`${name}:${String(req.headers['x-request-id'])}`);
      const body = JSON.parse(raw) as { prompt: number[] };
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-kvedge-sim-pod': `pod-of-${name}` });
      res.write(`data: ${JSON.stringify({ choices: [{ text: 't', finish_reason: null }] })}\n\n`);
      res.write(
        `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: body.prompt.length, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 0 } } })}\n\n`,
      );
      res.end('data: [DONE]\n\n');
    });
  });
}

describe('live driver over several replicas', () => {
  const seen: string[] = [];
  const servers = [namedServer('A', seen), namedServer('B', seen)];
  const urls: string[] = [];
  beforeAll(async () => {
    for (const server of servers) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
  });
  afterAll(() => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))));

  it('spreads the turns of one conversation over the replicas and counts requests per replica', async () => {
    seen.length = 0;
    const chain = [0, 1, 2, 3].map((t) =>
      request(`u0t${t}`, 0, tokens(1, 8 + t), 1, t > 0 ? { after: `u0t${t - 1}` } : {}),
    );
    const result = await runLive({ workload: tinyWorkload(chain), targets: urls, model: 'm', label: 'x' });
    expect(seen).toEqual(['A:u0t0', 'B:u0t1', 'A:u0t2', 'B:u0t3']);
    expect(result.requestsPerTarget).toEqual({ [urls[0]!]: 2, [urls[1]!]: 2 });
    expect(result.records.every((r) => r.error === null)).toBe(true);
  });

  it('keeps each request group on its record, so live runs report sibling co-location', async () => {
    const siblings = [0, 1, 2, 3].map((s) => request(`p0s${s}`, 0, tokens(1, 8), 1, { group: 'p0' }));
    const result = await runLive({ workload: tinyWorkload(siblings), targets: urls, model: 'm', label: 'x' });
    expect(result.records.map((r) => r.group)).toEqual(['p0', 'p0', 'p0', 'p0']);
  });

  it('pins the conversation to one replica in conversation mode', async () => {
    seen.length = 0;
    const chain = [0, 1, 2].map((t) =>
      request(`v0t${t}`, 0, tokens(1, 8 + t), 1, t > 0 ? { after: `v0t${t - 1}` } : {}),
    );
    const result = await runLive({
      workload: tinyWorkload(chain),
      targets: urls,
      model: 'm',
      label: 'x',
      spread: 'conversation',
    });
    expect(seen).toEqual(['A:v0t0', 'A:v0t1', 'A:v0t2']);
    expect(result.requestsPerTarget).toEqual({ [urls[0]!]: 3, [urls[1]!]: 0 });
  });
});
