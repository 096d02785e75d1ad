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
import { ClaimedPlacement, type ClaimOutcome, followClaim } from '../../src/routing/placement-agreement.ts';
import { ThreadClaimTable } from '../../src/routing/thread-claim-table.ts';
import { loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import type { FleetView } from '../../src/fleet/types.ts';
import type { Decision } from '../../src/scheduler/types.ts';
import { endpoint, fleet, request } from '../scheduler/fixtures.ts';

const CONFIG = `
plugins:
- type: precise-prefix-cache-producer
  parameters: {tokenProcessorConfig: {blockSizeTokens: 16}}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: prefix-cache-scorer, weight: 1}
  - {pluginRef: max-score-picker}
`;

const index = MemoryBlockIndex.create({ blockSize: 16, capacityKeys: 1 << 16 });
const table = ThreadClaimTable.create(2000, 64);
const PODS = ['a:1', 'b:1', 'c:1', 'd:1'];

/** One router: its own view over the shared index, scheduler, and placement step. */
function router(seed: number, config = CONFIG) {
  const view = new BlockIndexView(index);
  const { scheduler } = loadSchedulerConfig(config, {
    state: createInMemoryState({ blockIndex: view, speculativeBlockIndex: view }),
  });
  const outcomes: ClaimOutcome['kind'][] = [];
  const placement = new ClaimedPlacement({
    claims: table,
    producerNames: ['precise-prefix-cache-producer'],
    hold: (id, keys, ttlMs) => view.hold(id, keys, ttlMs),
    minNewTokens: 1024,
    checkpointTokens: 256,
    ttlMs: 2000,
    onOutcome: (o) => outcomes.push(o),
  });
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
    expect(await first.placement.settle(request({ blockKeys: keys }), 'm', placed)).toBeNull();
    expect(first.outcomes).toEqual(['won']);

    const elsewhere = decisionAvoiding(second, keys, placed.endpointId!);
    const claimed = await second.placement.settle(request({ blockKeys: keys }), 'm', elsewhere);
    expect(second.outcomes).toEqual(['taken']);
    expect(claimed).toBe(placed.endpointId);
    // The second router's view now holds the prompt on the claimed pod; the first router's does not.
    const again = second.decide(keys);
    expect(again.endpointId).toBe(placed.endpointId);
    expect(again.trace.producers[0]!.summary).toMatchObject({ matchedBlocks: { [placed.endpointId!]: 187 } });
    expect(first.decide(keys).trace.producers[0]!.summary).toMatchObject({ matchedBlocks: {} });
    // Another model's prompt with the same keys is a different claim.
    expect(await second.placement.settle(request({ blockKeys: keys }), 'other', elsewhere)).toBeNull();
    expect(second.outcomes.at(-1)).toBe('won');
  });

  it('settles synchronously through shared memory, and only through a store that answers later by a promise', async () => {
    const local = router(11);
    const keys = prompt(3000);
    // No round trip: the routing service need not make other decisions wait for this one.
    expect(local.placement.settle(request({ blockKeys: keys }), 'm', local.decide(keys))).toBeNull();
    expect(local.outcomes).toEqual(['won']);

    const remote = new ClaimedPlacement({
      claims: {
        claim: (scope, key, value) => Promise.resolve(table.claim(scope, key, value)),
        find: (scope, list) => Promise.resolve(table.find(scope, list)),
      },
      producerNames: ['precise-prefix-cache-producer'],
      hold: () => {},
      minNewTokens: 1024,
      checkpointTokens: 256,
      ttlMs: 2000,
    });
    const other = prompt(3000);
    const settled = remote.settle(request({ blockKeys: other }), 'm', local.decide(other));
    expect(settled).toBeInstanceOf(Promise);
    expect(await settled).toBeNull();
    // Nothing to claim: synchronous even with a remote store.
    const short = prompt(500);
    expect(remote.settle(request({ blockKeys: short }), 'm', local.decide(short))).toBeNull();
  });

  it('leaves the decision alone when there is too little new to compute, or nothing to gain', async () => {
    const [first, second] = [router(3), router(4)];
    const short = prompt(1000);
    expect(await first.placement.settle(request({ blockKeys: short }), 'm', first.decide(short))).toBeNull();
    expect(first.outcomes).toEqual([]);

    const keys = prompt(3000);
    const placed = first.decide(keys);
    await first.placement.settle(request({ blockKeys: keys }), 'm', placed);
    // The claimed pod is not among this decision's candidates.
    const others = PODS.filter((id) => id !== placed.endpointId);
    const without = second.decide(keys, others);
    expect(await second.placement.settle(request({ blockKeys: keys }), 'm', without)).toBeNull();
    expect(second.outcomes).toEqual(['taken']);
    // A disaggregated decision: its prefill pod computes the prompt; claims stay out of it.
    const elsewhere = decisionAvoiding(second, keys, placed.endpointId!);
    const disaggregated: Decision = {
      ...elsewhere,
      profileResults: { ...elsewhere.profileResults, prefill: { targets: [others[0]!] } },
    };
    expect(await second.placement.settle(request({ blockKeys: keys }), 'm', disaggregated)).toBeNull();
    expect(second.outcomes).toEqual(['taken']);
  });

  it('claims nothing once the prompt is indexed: siblings go to its holder directly', async () => {
    const [first, second] = [router(5), router(6)];
    const keys = prompt(3000);
    const placed = first.decide(keys);
    await first.placement.settle(request({ blockKeys: keys }), 'm', placed);
    index.add(placed.endpointId!, 'GPU', keys, null);
    const elsewhere = second.decide(keys);
    // With the prompt indexed on the claimed pod, the scheduler goes there and nothing is claimed.
    expect(elsewhere.endpointId).toBe(placed.endpointId);
    expect(await second.placement.settle(request({ blockKeys: keys }), 'm', elsewhere)).toBeNull();
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
    await first.placement.settle(request({ blockKeys: keys }), 'm', placed);
    index.recordSpeculative('a:1', keys, 2000);
    // This router sees a:1 hold the prompt but busy, and would recompute it on b:1.
    const busy = fleet([endpoint('a:1', { metrics: { waitingQueueSize: 40 } }), endpoint('b:1')]);
    const decision = second.schedule(keys, busy);
    expect(decision.endpointId).toBe('b:1');
    expect(await second.placement.settle(request({ blockKeys: keys }), 'm', decision)).toBe('a:1');
    expect(second.outcomes).toEqual(['taken']);
    expect(followClaim(decision, 'a:1').endpointId).toBe('a:1');
  });
});
