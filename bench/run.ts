/**
 * `npm run bench`: compares routing policies side by side (DESIGN.md "Benchmark"). See
 * `npm run bench -- --help` for every option; results go to bench/results/<workload>/.
 */
import { parseOptions, replicaOptionsProblem, workloadOptionsFrom } from './cli/options.ts';
import { ProgressDisplay } from './cli/progress.ts';
import { runDesBenchmark } from './des/des-benchmark.ts';
import { kvedgeRouterLauncher } from './live/kvedge-router-launcher.ts';
import { runLiveBenchmark } from './live/live-benchmark.ts';
import { runReplicaSweep } from './live/replica-sweep.ts';
import { policyByName } from './policies/catalog.ts';
import { summaryTable } from './report/markdown.ts';
import { commandLine, gitRevision } from './report/run-meta.ts';
import { workloadByName } from './workloads/registry.ts';

async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  const problem = replicaOptionsProblem(options);
  if (problem) throw new Error(problem);
  const progress = new ProgressDisplay(process.stderr, options.progress);
  const meta = {
    mode: options.mode,
    command: commandLine(argv),
    seed: options.seed,
    gitRevision: gitRevision(),
    date: new Date().toISOString(),
    node: process.version,
  };
  const policies = options.policies.map(policyByName);
  for (const name of options.workloads) {
    const workload = workloadByName(name).build(workloadOptionsFrom(options));
    const { dir, policies: reported } =
      options.mode === 'des'
        ? runDesBenchmark({
            workload,
            policies,
            seed: options.seed,
            scrapeIntervalMs: options.scrapeIntervalMs,
            kvEventDelayMs: options.kvEventDelayMs,
            routerThreads: options.routerThreads,
            outDir: options.out,
            meta,
            progress,
          })
        : options.replicaSweep && options.router
          ? await runReplicaSweep({
              workload,
              options,
              meta,
              progress,
              policy: policyByName(options.router),
              counts: options.replicaSweep,
            })
          : await runLiveBenchmark({
              workload,
              options,
              meta,
              progress,
              ...(options.router
                ? {
                    router: kvedgeRouterLauncher(policyByName(options.router), workload, {
                      replicas: options.replicas,
                      seed: options.seed,
                      threads: options.routerThreads,
                      placementClaims: options.placementClaims,
                      ...(options.redisUrl !== undefined ? { redisUrl: options.redisUrl } : {}),
                    }),
                  }
                : {}),
            });
    process.stdout.write(
      `\n## ${workload.name} (${options.mode})\n\n${summaryTable(reported)}\n\nwritten to ${dir}/\n`,
    );
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  // A failed start can leave servers behind (a sim fleet that failed half way): do not hang on them.
  process.exit(1);
});
