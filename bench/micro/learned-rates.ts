/**
 * What kvedge-picker learns of each pod over a DES run: every `interval` simulated seconds, the
 * fleet-wide prefill rate and the per-token rate each pod is costed with (`*`: the pod uses its own
 * learned rate for per-token or step time, else the fleet's), from the picker's debug state. Prints a
 * table as it goes and writes an SVG chart of the rates over time. The engine's own rate is the workload's profile (printed first): a uniform fleet should stay
 * on one line near it, a heterogeneous one should split by the pods' speeds.
 *
 * Run: npx tsx bench/micro/learned-rates.ts [workload] [seed] [interval s] [out.svg]
 *   e.g. npx tsx bench/micro/learned-rates.ts llm-d-shared-prefix-heterogeneous 1 20 /tmp/rates.svg
 */
import { writeFileSync } from 'node:fs';
import { runDes } from '../des/driver.ts';
import { policyByName } from '../policies/catalog.ts';
import { lineChart, PALETTE, type Series } from '../report/svg/line-chart.ts';
import { engineConfigForFleet } from '../workloads/fleet-shape.ts';
import { workloadByName } from '../workloads/registry.ts';

interface PickerDebug {
  readonly fleetRates: { readonly secondsPerToken: number; readonly samples: number };
  readonly endpoints: Record<string, { readonly costedWith: { secondsPerToken: number; source: string } }>;
}

const [workloadName = 'llm-d-shared-prefix', seedArg = '1', intervalArg = '20', out = 'learned-rates.svg'] =
  process.argv.slice(2);
const seed = Number(seedArg);
const intervalS = Number(intervalArg);
const workload = workloadByName(workloadName).build({ seed });
const engine = engineConfigForFleet(workload.fleet);
const slowdown = workload.fleet.slowdown ?? [];
process.stdout.write(
  `${workload.name}, seed ${seed}: engine ${(engine.timing.b * 1e6).toFixed(1)} µs/token` +
    (slowdown.some((s) => s !== 1) ? ` (slowdown per pod: ${slowdown.join(' ')})` : '') +
    `\n\n| sim s | samples | fleet µs/token | per pod µs/token (* = own rates) |\n|---:|---:|---:|---|\n`,
);

const fleetPoints: [number, number][] = [];
const podPoints = new Map<string, [number, number][]>();
runDes({
  workload,
  engine,
  policy: policyByName('kvedge'),
  seed,
  inspect: {
    intervalS,
    callback: (simS, plugins) => {
      const picker = plugins['kvedge-picker'] as PickerDebug | undefined;
      if (!picker) return;
      const fleet = picker.fleetRates.secondsPerToken * 1e6;
      fleetPoints.push([simS, fleet]);
      const pods = Object.entries(picker.endpoints).map(([id, e]) => {
        const rate = e.costedWith.secondsPerToken * 1e6;
        const points = podPoints.get(id) ?? [];
        points.push([simS, rate]);
        podPoints.set(id, points);
        return `${rate.toFixed(0)}${e.costedWith.source === 'own' ? '*' : ''}`;
      });
      process.stdout.write(
        `| ${simS.toFixed(0)} | ${picker.fleetRates.samples} | ${fleet.toFixed(1)} | ${pods.join(' ')} |\n`,
      );
    },
  },
});

const series: Series[] = [
  { name: 'fleet fit', color: '#000000', points: fleetPoints, dashed: true },
  ...[...podPoints].map(([id, points], i) => ({
    name: id,
    color: PALETTE[i % PALETTE.length] as string,
    points,
  })),
];
writeFileSync(
  out,
  lineChart({
    title: `kvedge learned prefill rate, ${workload.name} (seed ${seed})`,
    subtitle: `engine ${(engine.timing.b * 1e6).toFixed(1)} µs/token before any slowdown`,
    x: { label: 'simulated time (s)', scale: 'linear', min: 0 },
    y: { label: 'µs per uncached token', scale: 'linear', min: 0 },
    series,
  }),
);
process.stdout.write(`\nchart written to ${out}\n`);
