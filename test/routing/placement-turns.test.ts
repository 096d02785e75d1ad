import { once } from 'node:events';
import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type PlacementTurn, PlacementTurns } from '../../src/routing/placement-turns.ts';

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('PlacementTurns', () => {
  it('gives a turn synchronously while nobody holds one', () => {
    const turns = new PlacementTurns(20);
    const first = turns.take();
    expect(first).not.toBeInstanceOf(Promise);
    (first as PlacementTurn).end();
    expect(turns.take()).not.toBeInstanceOf(Promise);
  });

  it('queues decisions first come first served, each after the one before it ended and its microtasks ran', async () => {
    const turns = new PlacementTurns(1000);
    const first = turns.take() as PlacementTurn;
    expect(first.granted).toBe(true);
    const order: string[] = [];
    const waiters = ['b', 'c', 'd'].map(async (name) => {
      const turn = await turns.take();
      order.push(name);
      // Every waiter holds its turn across a round trip, as a decision awaiting its claim does.
      await new Promise((resolve) => setTimeout(resolve, 5));
      turn.end();
    });
    expect(turns.waiting).toBe(3);
    first.end();
    // The ender's own continuation (its dispatch) runs before the next decision.
    await Promise.resolve();
    order.push('a dispatched');
    await Promise.all(waiters);
    expect(order).toEqual(['a dispatched', 'b', 'c', 'd']);
    expect(turns.waiting).toBe(0);
    expect(turns.take()).not.toBeInstanceOf(Promise);
  });

  it('lets a decision go ahead unserialized once it waited maxWaitMs', async () => {
    const turns = new PlacementTurns(10);
    const stuck = turns.take() as PlacementTurn;
    const started = performance.now();
    const late = await turns.take();
    expect(performance.now() - started).toBeGreaterThanOrEqual(9);
    expect(late.granted).toBe(false);
    expect(turns.waiting).toBe(0);
    late.end(); // no turn was held: ending it changes nothing
    expect(turns.take()).toBeInstanceOf(Promise);
    stuck.end();
    stuck.end(); // idempotent
    await immediate();
  });

  it('frees the turn when the only waiter gave up before the hand-over', async () => {
    const turns = new PlacementTurns(5);
    const held = turns.take() as PlacementTurn;
    const gaveUp = turns.take();
    await gaveUp;
    held.end();
    expect(turns.take()).not.toBeInstanceOf(Promise);
  });

  it('keeps a waiter queued past maxWaitMs while the queue moves', async () => {
    const turns = new PlacementTurns(10);
    const first = turns.take() as PlacementTurn;
    const second = turns.take();
    const third = turns.take();
    setTimeout(() => first.end(), 6);
    const b = await second;
    await new Promise((resolve) => setTimeout(resolve, 8));
    b.end();
    // The third waited ~14 ms in all, but never 10 ms without the queue moving.
    const c = await third;
    expect([b.granted, c.granted]).toEqual([true, true]);
    c.end();
  });

  it('does not time out a waiter whose turn-holder got its answer while the process was busy', async () => {
    // The holder awaits a reply over a real socket, as a claim awaits Redis; then the event loop is
    // blocked past maxWaitMs. The reply and the waiter's deadline are both due when it unblocks.
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
      const turns = new PlacementTurns(10);
      const holder = turns.take() as PlacementTurn;
      const waiter = turns.take();
      const reply = once(client, 'data').then(() => holder.end());
      client.write('claim');
      await replied;
      // The reply sits unread in the socket; busy in the check phase, the next loop iteration runs its
      // due timers before it reads the socket.
      setImmediate(() => {
        const until = performance.now() + 30;
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
