import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type PlacementTurn, PlacementTurns } from '../../src/routing/placement-turns.ts';

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function turns(stallMs: number, maxWaitMs = 10_000, maxQueue = 100): PlacementTurns {
  return new PlacementTurns({ stallMs, maxWaitMs, maxQueue });
}

describe('PlacementTurns', () => {
  it('gives a turn synchronously while nobody holds one', () => {
    const t = turns(20);
    const first = t.take();
    expect(first).not.toBeInstanceOf(Promise);
    (first as PlacementTurn).end();
    expect(t.take()).not.toBeInstanceOf(Promise);
  });

  it('queues decisions first come first served, each after the one before it ended and its microtasks ran', async () => {
    const t = turns(1000);
    const first = t.take() as PlacementTurn;
    expect(first.granted).toBe(true);
    const order: string[] = [];
    const waiters = ['b', 'c', 'd'].map(async (name) => {
      const turn = await t.take();
      order.push(name);
      // Every waiter holds its turn across a round trip, as a decision awaiting its claim does.
      await sleep(5);
      turn.end();
    });
    expect(t.waiting).toBe(3);
    first.end();
    // The ender's own continuation (its dispatch) runs before the next decision.
    await Promise.resolve();
    order.push('a dispatched');
    await Promise.all(waiters);
    expect(order).toEqual(['a dispatched', 'b', 'c', 'd']);
    expect(t.waiting).toBe(0);
    expect(t.take()).not.toBeInstanceOf(Promise);
  });

  it('lets a decision go ahead unserialized once the queue stood still for stallMs', async () => {
    const t = turns(10);
    const stuck = t.take() as PlacementTurn;
    const started = performance.now();
    const late = await t.take();
    expect(performance.now() - started).toBeGreaterThanOrEqual(9);
    expect(late.granted).toBe(false);
    expect(t.waiting).toBe(0);
    late.end(); // no turn was held: ending it changes nothing
    expect(t.take()).toBeInstanceOf(Promise);
    stuck.end();
    stuck.end(); // idempotent
    await immediate();
  });

  it('keeps a waiter queued past stallMs while the queue moves', async () => {
    const t = turns(10);
    const first = t.take() as PlacementTurn;
    const second = t.take();
    const third = t.take();
    setTimeout(() => first.end(), 6);
    const b = await second;
    await sleep(8);
    b.end();
    // The third waited ~14 ms in all, but never 10 ms without the queue moving.
    const c = await third;
    expect([b.granted, c.granted]).toEqual([true, true]);
    c.end();
  });

  it('lets no decision wait more than maxWaitMs in all, however the queue moves', async () => {
    const t = turns(10_000, 250);
    const first = t.take() as PlacementTurn;
    const waits = [1, 2, 3, 4].map(async () => {
      const started = performance.now();
      const turn = await t.take();
      const waited = performance.now() - started;
      if (turn.granted) setTimeout(() => turn.end(), 100);
      return { granted: turn.granted, waited };
    });
    setTimeout(() => first.end(), 100);
    const results = await Promise.all(waits);
    // Turns change hands every 100 ms: the first two waiters get theirs, the others give up at 250 ms.
    expect(results.map((r) => r.granted)).toEqual([true, true, false, false]);
    for (const r of results.slice(2)) expect(r.waited).toBeGreaterThanOrEqual(249);
  });

  it('sends a decision ahead at once when maxQueue others are waiting', () => {
    const t = turns(1000, 1000, 2);
    t.take();
    expect(t.take()).toBeInstanceOf(Promise);
    expect(t.take()).toBeInstanceOf(Promise);
    const over = t.take();
    expect(over).not.toBeInstanceOf(Promise);
    expect((over as PlacementTurn).granted).toBe(false);
  });

  it('frees the turn of a holder that never ends it, after twice stallMs', async () => {
    const t = turns(15);
    t.take(); // never ended
    expect((await t.take()).granted).toBe(false); // its waiter gave up after stallMs
    await sleep(30);
    const next = t.take();
    expect(next).not.toBeInstanceOf(Promise);
    expect((next as PlacementTurn).granted).toBe(true);
  });

  it('frees the turn when the only waiter gave up before the hand-over', async () => {
    const t = turns(5);
    const held = t.take() as PlacementTurn;
    const gaveUp = t.take();
    await gaveUp;
    held.end();
    expect(t.take()).not.toBeInstanceOf(Promise);
  });

  it('does not time out a waiter whose turn-holder got its answer while the process was busy', async () => {
    // The holder awaits a reply over a real socket, as a claim awaits Redis; then the event loop is
    // blocked past stallMs (not past the holder's lease). The reply and the waiter's deadline are both
    // due when it unblocks.
    let echoed!: () => void;
    const replied = new Promise<void>((resolve) => (echoed = resolve));
    const server = createServer((socket) =>
      socket.on('data', (data) => {
        socket.write(data);
        echoed();
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    try {
      const t = turns(100);
      const holder = t.take() as PlacementTurn;
      const waiter = t.take();
      const reply = once(client, 'data').then(() => holder.end());
      client.write('claim');
      await replied;
      // The reply sits unread in the socket; busy in the check phase, the next loop iteration runs its
      // due timers before it reads the socket.
      setImmediate(() => {
        const until = performance.now() + 150;
        while (performance.now() < until) {
          // the waiter's deadline passes meanwhile
        }
      });
      await reply;
      expect((await waiter).granted).toBe(true);
    } finally {
      client.destroy();
      server.close();
    }
  });
});
