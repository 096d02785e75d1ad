import { describe, expect, it } from 'vitest';
import { offsetEndpointForRank, shouldBindEndpoint } from '../../../src/sim/kv-events/endpoint.ts';
import { ReplayRing } from '../../../src/sim/kv-events/replay-ring.ts';

describe("vLLM's bind-or-connect heuristic (reference §1.2)", () => {
  it.each([
    ['tcp://*:5557', true],
    ['tcp://127.0.0.1:*', true],
    ['tcp://[::]:5557', true],
    ['ipc:///tmp/kv.sock', true],
    ['inproc://kv', true],
    ['tcp://epp-host:5557', false],
    ['tcp://10.0.0.1:5557', false],
  ])('%s -> bind %s', (endpoint, bind) => {
    expect(shouldBindEndpoint(endpoint)).toBe(bind);
  });
});

describe('per-DP-rank endpoints (reference §1.2 offset_endpoint_port)', () => {
  it('leaves rank 0 alone, offsets tcp ports and suffixes inproc names', () => {
    expect(offsetEndpointForRank('tcp://*:5557', 0)).toBe('tcp://*:5557');
    expect(offsetEndpointForRank('tcp://*:5557', 3)).toBe('tcp://*:5560');
    expect(offsetEndpointForRank('tcp://[::1]:5557', 1)).toBe('tcp://[::1]:5558');
    expect(offsetEndpointForRank('inproc://cache', 2)).toBe('inproc://cache_dp2');
  });

  it('rejects transports vLLM rejects', () => {
    expect(() => offsetEndpointForRank('ipc:///tmp/kv', 1)).toThrow(RangeError);
    expect(() => offsetEndpointForRank('tcp://host:*', 1)).toThrow(RangeError);
  });
});

describe('replay ring', () => {
  const payload = (n: number) => Uint8Array.of(n);

  it('keeps the newest `capacity` batches, oldest first', () => {
    const ring = new ReplayRing(3);
    for (let i = 0; i < 5; i++) ring.push(BigInt(i), payload(i));
    expect(ring.size).toBe(3);
    expect(ring.since(0n).map((e) => e.seq)).toEqual([2n, 3n, 4n]);
    expect(ring.since(4n).map((e) => e.payload[0])).toEqual([4]);
    expect(ring.since(9n)).toEqual([]);
    ring.clear();
    expect(ring.since(0n)).toEqual([]);
  });

  it('a zero-capacity ring stores nothing', () => {
    const ring = new ReplayRing(0);
    ring.push(0n, payload(0));
    expect(ring.since(0n)).toEqual([]);
  });
});
