/**
 * Free ports for a started sim fleet's KV-event sockets: pod i publishes on `base + i` and serves
 * replays on `base + replayOffset + i`, so both runs must be free. A fixed base would collide with
 * another benchmark on the same machine, or with the previous run's sockets still closing.
 */
import { createServer } from 'node:net';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port such that `base..base+count-1` and the same run `replayOffset` above are free. */
export async function freeKvPortBase(count: number, replayOffset = 100): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below the kernel's ephemeral range (32768+ by default), where outgoing connections take ports.
    const base = 20_000 + Math.floor(Math.random() * (12_000 - replayOffset - count));
    const ports = Array.from({ length: count }, (_, i) => [base + i, base + replayOffset + i]).flat();
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
  throw new Error(`no free run of ${count} KV-event ports found`);
}
