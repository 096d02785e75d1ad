/**
 * ClaimedPlacement between two routers (two threads' views over one real block index, one claim
 * table in shared memory) and a real scheduler: the second router to place a new prompt finds the
 * first one's claim, sees the claimed pod hold the prompt in its own view only, and its new
 * decision goes there. Dispatches that compute little, claims for pods the decision could not
 * choose and disaggregated decisions leave the decision alone, as does an indexed prompt.
 */
import { describe, expect, it } from 'vitest';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import { BlockIndexView } from '../../src/routing/block-index-view.ts';
import { claimSources } from '../../src/routing/claim-sources.ts';
import { ClaimedPlacement, type ClaimOutcome, followClaim } from '../../src/routing/placement-agreement.ts';
import { ThreadClaimTable } from '../../src/routing/thread-claim-table.ts';
import { namedConfigs } from '../../src/scheduler/config/defaults.ts';
import { loadSchedulerConfig, type LoadedSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import type { FleetView } from '../../src/fleet/types.ts';
import type { Decision, SchedulingRequest } from '../../src/scheduler/types.ts';
import { endpoint, fleet, request, text } from '../scheduler/fixtures.ts';

/** A prefix producer, the prefix scorer on it, and llm-d's max-score picker. */
function prefixConfig(producer: string, parameters: string): string {
  return `
plugins:
- type: ${producer}
  parameters: ${parameters}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: ${producer}}
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 1}
  - {pluginRef: max-score-picker}
`;
}

const CONFIG = prefixConfig('precise-prefix-cache-producer', '{tokenProcessorConfig: {blockSizeTokens: 16}}');
const APPROX_CONFIG = prefixConfig('approx-prefix-cache-producer', '{autoTune: false, blockSizeTokens: 64}');

const index = MemoryBlockIndex.create({ blockSize: 16, capacityKeys: 1 << 16 });
const table = ThreadClaimTable.create(2000, 64);
const PODS = ['a:1', 'b:1', 'c:1', 'd:1'];

/** Plans and settles `decision` in one go, as the routing service does when nothing waits. */
function settle(
  placement: ClaimedPlacement,
  req: SchedulingRequest,
  model: string,
  decision: Decision,
): ReturnType<ClaimedPlacement['settle']> {
  const plan = placement.plan(req, decision);
  return plan ? placement.settle(plan, model) : null;
}

/** The placement step over `loaded`'s producers and the shared claim table, recording outcomes. */
function claimedPlacement(loaded: LoadedSchedulerConfig, view?: BlockIndexView) {
  const outcomes: ClaimOutcome['kind'][] = [];
  const placement = new ClaimedPlacement({
    claims: table,
    sources: claimSources(loaded, view ? (id, keys, ttlMs) => view.hold(id, keys, ttlMs) : undefined),
    minNewTokens: 1024,
    checkpointTokens: 256,
    ttlMs: 2000,
    onOutcome: (o) => outcomes.push(o),
  });
  return { outcomes, placement };
}

/** One router: its own view over the shared index, scheduler, and placement step. */
function router(seed: number, config = CONFIG) {
  const view = new BlockIndexView(index);
  const loaded = loadSchedulerConfig(config, {
    state: createInMemoryState({ blockIndex: view, speculativeBlockIndex: view }),
  });
  const { scheduler } = loaded;
  const { outcomes, placement } = claimedPlacement(loaded, view);
  const random = createRandom(seed);
  const schedule = (keys: bigint[], view: FleetView): Decision =>
    scheduler.schedule(request({ blockKeys: keys }), view, { random });
  return {
    outcomes,
    placement,
    schedule,
    decide: (keys: bigint[], pods = PODS): Decision => schedule(keys, fleet(pods.map((id) => endpoint(id)))),
  };
}

let seed = 0;
function prompt(tokens: number): bigint[] {
  seed++;
  const ids = Array.from({ length: tokens }, (_, i) => (seed * 7919 + i * 31) % 150_000);
  return [...computeBlockKeys(ids, 16, blockKeyRoot('m', null, null))];
}

/** A decision of `r` for `keys` that chose a pod other than `not` (ties break at random). */
function decisionAvoiding(r: ReturnType<typeof router>, keys: bigint[], not: string): Decision {
  for (;;) {
    const d = r.decide(keys);
    if (d.endpointId !== not) return d;
  }
}

describe('ClaimedPlacement', () => {
  it("sends a sibling where another router's claim put the prompt, by a new decision", async () => {
    const [first, second] = [router(1), router(2)];
    const keys = prompt(3000);
    const placed = first.decide(keys);
    expect(await settle(first.placement, request({ blockKeys: keys }), 'm', placed)).toBeNull();
    expect(first.outcomes).toEqual(['won']);

    const elsewhere = decisionAvoiding(second, keys, placed.endpointId!);
    const claimed = await settle(second.placement, request({ blockKeys: keys }), 'm', elsewhere);
    expect(second.outcomes).toEqual(['taken']);
    expect(claimed).toBe(placed.endpointId);
    // The second router's view now holds the prompt on the claimed pod; the first router's does not.
    const again = second.decide(keys);
    expect(again.endpointId).toBe(placed.endpointId);
    expect(again.trace.producers[0]!.summary).toMatchObject({ matchedBlocks: { [placed.endpointId!]: 187 } });
    expect(first.decide(keys).trace.producers[0]!.summary).toMatchObject({ matchedBlocks: {} });
    // Another model's prompt with the same keys is a different claim.
    expect(await settle(second.placement, request({ blockKeys: keys }), 'other', elsewhere)).toBeNull();
    expect(second.outcomes.at(-1)).toBe('won');
  });

  it('settles synchronously through shared memory, and only through a store that answers later by a promise', async () => {
    const local = router(11);
    const keys = prompt(3000);
    const decision = local.decide(keys);
    // Only decisions that would claim wait for the claims in flight (placement turns).
    expect(local.placement.plan(request({ blockKeys: keys }), decision)).toBeDefined();
    expect(local.outcomes).toEqual([]);
    const short = prompt(500);
    expect(local.placement.plan(request({ blockKeys: short }), local.decide(short))).toBeUndefined();
    // No round trip: the routing service need not make other decisions wait for this one.
    expect(settle(local.placement, request({ blockKeys: keys }), 'm', decision)).toBeNull();
    expect(local.outcomes).toEqual(['won']);

    const remote = new ClaimedPlacement({
      claims: {
        claim: (scope, key, value) => Promise.resolve(table.claim(scope, key, value)),
        find: (scope, list) => Promise.resolve(table.find(scope, list)),
      },
      sources: [
        {
          producer: 'precise-prefix-cache-producer',
          scope: () => '',
          keys: (r) => r.blockKeys ?? null,
          hold() {},
        },
      ],
      minNewTokens: 1024,
      checkpointTokens: 256,
      ttlMs: 2000,
    });
    const other = prompt(3000);
    const settled = settle(remote, request({ blockKeys: other }), 'm', local.decide(other));
    expect(settled).toBeInstanceOf(Promise);
    expect(await settled).toBeNull();
    // Nothing to claim: synchronous even with a remote store.
    expect(settle(remote, request({ blockKeys: short }), 'm', local.decide(short))).toBeNull();
  });

  it('stops answering after three unanswered claims in a row, and answers again after one is answered', async () => {
    const local = router(12);
    let answer: ClaimOutcome = { kind: 'unavailable' };
    const flaky = new ClaimedPlacement({
      claims: { claim: async () => answer, find: async () => null },
      sources: claimSources(loadSchedulerConfig(CONFIG), () => {}),
      minNewTokens: 1024,
      checkpointTokens: 256,
      ttlMs: 2000,
    });
    const settleNew = async () => {
      const keys = prompt(3000);
      return settle(flaky, request({ blockKeys: keys }), 'm', local.decide(keys));
    };
    expect(flaky.answering).toBe(true);
    for (let i = 0; i < 3; i++) await settleNew();
    // Decisions stop waiting for one another (placement turns) while claims come to nothing.
    expect(flaky.answering).toBe(false);
    answer = { kind: 'won' };
    await settleNew();
    expect(flaky.answering).toBe(true);
  });

  it('leaves the decision alone when there is too little new to compute, or nothing to gain', async () => {
    const [first, second] = [router(3), router(4)];
    const short = prompt(1000);
    expect(await settle(first.placement, request({ blockKeys: short }), 'm', first.decide(short))).toBeNull();
    expect(first.outcomes).toEqual([]);

    const keys = prompt(3000);
    const placed = first.decide(keys);
    await settle(first.placement, request({ blockKeys: keys }), 'm', placed);
    // The claimed pod is not among this decision's candidates.
    const others = PODS.filter((id) => id !== placed.endpointId);
    const without = second.decide(keys, others);
    expect(await settle(second.placement, request({ blockKeys: keys }), 'm', without)).toBeNull();
    expect(second.outcomes).toEqual(['taken']);
    // A disaggregated decision: its prefill pod computes the prompt; claims stay out of it.
    const elsewhere = decisionAvoiding(second, keys, placed.endpointId!);
    const disaggregated: Decision = {
      ...elsewhere,
      profileResults: { ...elsewhere.profileResults, prefill: { targets: [others[0]!] } },
    };
    expect(await settle(second.placement, request({ blockKeys: keys }), 'm', disaggregated)).toBeNull();
    expect(second.outcomes).toEqual(['taken']);
  });

  it('claims nothing once the prompt is indexed: siblings go to its holder directly', async () => {
    const [first, second] = [router(5), router(6)];
    const keys = prompt(3000);
    const placed = first.decide(keys);
    await settle(first.placement, request({ blockKeys: keys }), 'm', placed);
    index.add(placed.endpointId!, 'GPU', keys, null);
    const elsewhere = second.decide(keys);
    // With the prompt indexed on the claimed pod, the scheduler goes there and nothing is claimed.
    expect(elsewhere.endpointId).toBe(placed.endpointId);
    expect(await settle(second.placement, request({ blockKeys: keys }), 'm', elsewhere)).toBeNull();
    expect(second.outcomes).toEqual([]);
  });

  it("follows a claim: the claimed pod first, the second decision's own choice first among the fallbacks", () => {
    const r = router(7);
    const decision = r.decide(prompt(3000));
    const chosen = decision.endpointId!;
    expect(followClaim(decision, chosen)).toBe(decision);
    const other = PODS.find((id) => id !== chosen)!;
    const followed = followClaim(decision, other);
    expect(followed.endpointId).toBe(other);
    expect(followed.fallbackEndpointIds[0]).toBe(chosen);
    expect(followed.fallbackEndpointIds).not.toContain(other);
    // The plugins record the second decision's state (which saw the claimed pod hold the prompt).
    expect(followed.state).toBe(decision.state);
    // A pod that is no longer a candidate is not followed.
    const without = r.decide(prompt(3000), [chosen]);
    expect(followClaim(without, other)).toBe(without);
  });

  it("follows a fresh claim behind a copy it was about to recompute: another router's placement of a moment ago", async () => {
    const LOADED = `
plugins:
- type: precise-prefix-cache-producer
  parameters: {tokenProcessorConfig: {blockSizeTokens: 16}}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 1}
  - {pluginRef: queue-scorer, weight: 5}
  - {pluginRef: max-score-picker}
`;
    const second = router(9, LOADED);
    const keys = prompt(3000);
    // Another router placed the prompt on a:1 and claimed it; its speculative insert has landed.
    const first = router(8);
    const placed = first.decide(keys, ['a:1']);
    await settle(first.placement, request({ blockKeys: keys }), 'm', placed);
    index.recordSpeculative('a:1', keys, 2000);
    // This router sees a:1 hold the prompt but busy, and would recompute it on b:1.
    const busy = fleet([endpoint('a:1', { metrics: { waitingQueueSize: 40 } }), endpoint('b:1')]);
    const decision = second.schedule(keys, busy);
    expect(decision.endpointId).toBe('b:1');
    expect(await settle(second.placement, request({ blockKeys: keys }), 'm', decision)).toBe('a:1');
    expect(second.outcomes).toEqual(['taken']);
    expect(followClaim(decision, 'a:1').endpointId).toBe('a:1');
  });
});

/** A router without block keys: approximate prefix history of its own (a replica's before it syncs). */
function approxRouter(seed: number) {
  const loaded = loadSchedulerConfig(APPROX_CONFIG, { state: createInMemoryState() });
  const { outcomes, placement } = claimedPlacement(loaded);
  const random = createRandom(seed);
  const decide = (promptText: string): Decision =>
    loaded.scheduler.schedule(request({ promptText }), fleet(PODS.map((id) => endpoint(id))), { random });
  return { outcomes, placement, decide };
}

describe('ClaimedPlacement on approximate prefix hashes (no tokenizer)', () => {
  it('claims with the prompt hashes, and a router that finds the claim records the prompt on the claimed pod', async () => {
    const [first, second] = [approxRouter(21), approxRouter(22)];
    const prompt = text('approx-siblings', 6000 * 4);
    const placed = first.decide(prompt);
    expect(await settle(first.placement, request({ promptText: prompt }), 'm', placed)).toBeNull();
    expect(first.outcomes).toEqual(['won']);

    let elsewhere = second.decide(prompt);
    while (elsewhere.endpointId === placed.endpointId) elsewhere = second.decide(prompt);
    const claimed = await settle(second.placement, request({ promptText: prompt }), 'm', elsewhere);
    expect(second.outcomes).toEqual(['taken']);
    expect(claimed).toBe(placed.endpointId);
    // The second router's prefix history now says the claimed pod was sent the prompt.
    const again = second.decide(prompt);
    expect(again.endpointId).toBe(placed.endpointId);
    expect(again.trace.producers[0]!.summary).toMatchObject({ matchedBlocks: { [placed.endpointId!]: 94 } });
    // A short prompt computes too little to claim.
    const short = text('approx-short', 900 * 4);
    expect(
      await settle(first.placement, request({ promptText: short }), 'm', first.decide(short)),
    ).toBeNull();
    expect(first.outcomes).toEqual(['won']);
  });

  it("claims with kvedge's config on a request without block keys", async () => {
    const view = new BlockIndexView(index);
    const loaded = loadSchedulerConfig(namedConfigs.kvedge, {
      state: createInMemoryState({ blockIndex: view, speculativeBlockIndex: view }),
    });
    const { outcomes, placement } = claimedPlacement(loaded, view);
    const prompt = text('kvedge-no-tokenizer', 3000 * 4);
    const decision = loaded.scheduler.schedule(
      request({ promptText: prompt }),
      fleet(PODS.map((id) => endpoint(id))),
      { random: createRandom(5) },
    );
    expect(await settle(placement, request({ promptText: prompt }), 'm', decision)).toBeNull();
    expect(outcomes).toEqual(['won']);
    // Under the approximate producer's scope, not the block keys' (the model's name alone).
    const data = decision.state.producerData.get('approx-prefix-cache-producer') as { hashes: bigint[] };
    const probe = data.hashes.slice(0, 16);
    expect(table.find('m#approx-prefix-cache-producer@64', probe)).toContain('"e"');
    expect(table.find('m', probe)).toBeNull();
  });

  it('prefers block keys where the router has an index, and claims with hashes where it has none', () => {
    const both = loadSchedulerConfig(namedConfigs.kvedge, { state: createInMemoryState() });
    const hold = () => {};
    const data = { matches: new Map(), totalBlocks: 1, blockSizeTokens: 64 };
    expect(claimSources(both, hold).map((s) => [s.producer, s.scope(data)])).toEqual([
      ['precise-prefix-cache-producer', ''],
      ['approx-prefix-cache-producer', '#approx-prefix-cache-producer@64'],
    ]);
    expect(claimSources(both).map((s) => s.producer)).toEqual(['approx-prefix-cache-producer']);
    const none = loadSchedulerConfig(namedConfigs['round-robin'], { state: createInMemoryState() });
    expect(claimSources(none, hold)).toEqual([]);
  });
});
