/**
 * How many short streaming requests per second a fleet of simulated pods in one process sustains
 * (the simulator must not be what limits a live benchmark). The load generator runs in a worker
 * thread so it does not share the fleet's event loop.
 *
 *   npx tsx bench/micro/sim-throughput.ts [--pods 8] [--concurrency 64] [--seconds 10] [--tokenizer synthetic]
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { SimFleet } from '../../src/sim/server/sim-fleet.ts';
import { SIM_DEFAULTS, fleetOptionsFrom } from '../../src/sim/server/sim-options.ts';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
    tokenizer: { type: 'string', default: 'synthetic' },
    'max-tokens': { type: 'string', default: '8' },
    port: { type: 'string', default: '18100' },
  },
});
const pods = Number(values.pods);
const port = Number(values.port);
const fleet = await SimFleet.start(
  fleetOptionsFrom({
    ...SIM_DEFAULTS,
    pods,
    port,
    kvPort: null,
    replayPort: null,
    fleetFile: null,
    controlPort: null,
    tokenizer: values.tokenizer!,
  }),
);
console.error(`fleet of ${pods} pods up on ${port}..${port + pods - 1}; loading for ${values.seconds}s`);

const loadSource = `
const { workerData, parentPort } = require('node:worker_threads');
const { request, Agent } = require('undici');
const { ports, concurrency, seconds, maxTokens, model } = workerData;
const agent = new Agent({ connections: concurrency, pipelining: 1 });
const lat = []; let ok = 0, failed = 0, i = 0;
const end = Date.now() + seconds * 1000;
const body = (n) => JSON.stringify({ model, prompt: 'Request ' + n + ': summarise the quarterly report in one line.', max_tokens: maxTokens, stream: true });
async function loop() {
  while (Date.now() < end) {
    const n = i++; const p = ports[n % ports.length]; const t0 = performance.now();
    try {
      const res = await request('http://127.0.0.1:' + p + '/v1/completions', { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: body(n) });
      const text = await res.body.text();
      if (res.statusCode === 200 && text.endsWith('data: [DONE]\\n\\n')) { ok++; lat.push(performance.now() - t0); } else failed++;
    } catch { failed++; }
  }
}
Promise.all(Array.from({ length: concurrency }, loop)).then(async () => { await agent.close(); parentPort.postMessage({ ok, failed, lat }); });
`;
const started = Date.now();
const result = await new Promise<{ ok: number; failed: number; lat: number[] }>((resolve, reject) => {
  const w = new Worker(loadSource, {
    eval: true,
    workerData: {
      ports: fleet.pods.map((p) => p.port),
      concurrency: Number(values.concurrency),
      seconds: Number(values.seconds),
      maxTokens: Number(values['max-tokens']),
      model: SIM_DEFAULTS.model,
    },
  });
  w.once('message', resolve);
  w.once('error', reject);
});
const elapsed = (Date.now() - started) / 1000;
await fleet.stop();
const lat = result.lat.sort((a, b) => a - b);
const pct = (q: number): string =>
  lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(1) : '-';
console.log('| pods | tokenizer | concurrency | max_tokens | ok | failed | req/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|---|---|---|---|---|');
console.log(
  `| ${pods} | ${values.tokenizer} | ${values.concurrency} | ${values['max-tokens']} | ${result.ok} | ${result.failed} | ${(result.ok / elapsed).toFixed(0)} | ${pct(0.5)} | ${pct(0.99)} |`,
);
process.exit(0);
