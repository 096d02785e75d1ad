/**
 * Live mode through kvedge itself: starts the real router (the same `Router` as `kvedge serve`)
 * in front of the started sim fleet, discovering the pods from the fleet file and subscribing to
 * their KV events, with the benchmark policy's scheduler config.
 */
import { pino } from 'pino';
import { FileDiscovery } from '../../src/fleet/discovery/file-discovery.ts';
import { Router } from '../../src/routing/router.ts';
import type { Policy } from '../policies/policy.ts';
import { engineConfigForFleet } from '../workloads/fleet-shape.ts';
import type { Workload } from '../workloads/types.ts';
import type { RouterLauncher } from './router-launcher.ts';

export function kvedgeRouterLauncher(policy: Policy, workload: Workload): RouterLauncher {
  if (!policy.configYaml) throw new Error(`policy '${policy.name}' has no scheduler config to run live`);
  const blockSize = engineConfigForFleet(workload.fleet).blockSize;
  const configYaml = policy.configYaml(blockSize);
  return {
    label: `kvedge router (${policy.name})`,
    async start(fleet, fleetFile) {
      const router = await Router.start({
        discovery: new FileDiscovery({ path: fleetFile }),
        schedulerConfig: configYaml,
        edge: { host: '127.0.0.1', port: 0 },
        adminPort: null,
        threads: 1,
        // Live prompts are token ids, which pass through any tokenizer unchanged.
        tokenizers: { [fleet.model]: 'synthetic' },
        indexBlockSize: blockSize,
        logger: pino({ level: 'warn' }),
      });
      return { baseUrl: `http://127.0.0.1:${router.port}`, stop: () => router.stop(1000) };
    },
  };
}
