import { describe, expect, it } from 'vitest';
import { loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { SchedulerConfigError } from '../../src/scheduler/config/config-error.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { PD_CONFIG } from './reference-configs.ts';
import { endpoint, fleet, NOW, request, text } from './fixtures.ts';

const role = (id: string, r: string) => endpoint(id, { labels: { 'llm-d.ai/role': r } });
const pool = fleet([
  role('p1:8000', 'prefill'),
  role('p2:8000', 'prefill'),
  role('d1:8000', 'decode'),
  role('d2:8000', 'decode'),
]);
const isPrefill = (id: string | undefined) => id === 'p1:8000' || id === 'p2:8000';
const isDecode = (id: string | null | undefined) => id === 'd1:8000' || id === 'd2:8000';

describe('disagg-profile-handler with prefix-based-pd-decider (§3.4 config)', () => {
  it('picks a decode endpoint, then a prefill endpoint when ≥ nonCachedTokens are uncached', () => {
    const { scheduler } = loadSchedulerConfig(PD_CONFIG);
    const req = request({ promptText: text('long', 4000) }); // 1000 pseudo-tokens, nothing cached
    const decision = scheduler.schedule(req, pool, { random: createRandom(1) });
    expect(decision.primaryProfile).toBe('decode');
    expect(isDecode(decision.endpointId)).toBe(true);
    const prefill = decision.profileResults['prefill']?.targets[0];
    expect(isPrefill(prefill)).toBe(true);
    expect(decision.requestHeaders).toEqual({ 'x-prefiller-host-port': prefill });
    expect(decision.trace.profileHandler.ran).toEqual(['decode', 'prefill']);
  });

  it('stays decode-only when the decode endpoint already holds the prompt', () => {
    const { scheduler } = loadSchedulerConfig(PD_CONFIG);
    const prompt = text('long', 4000);
    const first = scheduler.schedule(request({ promptText: prompt }), pool, { random: createRandom(1) });
    scheduler.recordDispatch(request({ promptText: prompt }), first, NOW);
    const second = scheduler.schedule(request({ promptText: prompt }), pool, { random: createRandom(2) });
    // The prefix scorer steers decode to the same endpoint; all 16 blocks (1024 tokens ≥ 1000) are cached there.
    expect(second.endpointId).toBe(first.endpointId);
    expect(second.profileResults['prefill']).toBeUndefined();
    expect(second.requestHeaders).toEqual({});
    expect(second.trace.notes.map((n) => n.message)).toContain('disaggregation decision: decode-only');
  });

  it('does not disaggregate short prompts', () => {
    const { scheduler } = loadSchedulerConfig(PD_CONFIG);
    const decision = scheduler.schedule(request({ promptText: 'short' }), pool, { random: createRandom(1) });
    expect(Object.keys(decision.profileResults)).toEqual(['decode']);
  });

  it('fails when no endpoint can decode', () => {
    const { scheduler } = loadSchedulerConfig(PD_CONFIG);
    const decision = scheduler.schedule(request(), fleet([role('p1:8000', 'prefill')]), {
      random: createRandom(1),
    });
    expect(decision.endpointId).toBeNull();
    expect(decision.failure).toMatchObject({ httpStatus: 429, reason: 'rejected-saturated' });
  });
});

const PD_LEGACY = (handlerParams: string) => `
plugins:
- type: prefill-filter
- type: decode-filter
- type: prefix-cache-scorer
- type: pd-profile-handler
  parameters: ${handlerParams}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: prefill-filter}, {pluginRef: prefix-cache-scorer}]
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: prefix-cache-scorer}]
`;

describe('pd-profile-handler (deprecated)', () => {
  it('picks prefill and decode endpoints by role labels with the legacy threshold 0 (always)', () => {
    const loaded = loadSchedulerConfig(PD_LEGACY('{threshold: 0, hashBlockSize: 5}'));
    expect(loaded.warnings.join('\n')).toContain("'pd-profile-handler' is deprecated");
    for (let seed = 0; seed < 10; seed++) {
      const decision = loaded.scheduler.schedule(request({ promptText: 'hi' }), pool, {
        random: createRandom(seed),
      });
      expect(isDecode(decision.endpointId)).toBe(true);
      expect(isPrefill(decision.profileResults['prefill']?.targets[0])).toBe(true);
      expect(decision.requestHeaders['x-prefiller-host-port']).toBe(
        decision.profileResults['prefill']?.targets[0],
      );
    }
  });

  it('uses a configured decider plugin by name', () => {
    const yaml = PD_LEGACY('{deciderPluginName: my-decider}').replace(
      'plugins:\n',
      'plugins:\n- {name: my-decider, type: prefix-based-pd-decider, parameters: {nonCachedTokens: 100}}\n',
    );
    const { scheduler } = loadSchedulerConfig(yaml);
    const long = scheduler.schedule(request({ promptText: text('x', 4000) }), pool, {
      random: createRandom(1),
    });
    expect(long.profileResults['prefill']).toBeDefined();
    const short = scheduler.schedule(request({ promptText: text('x', 200) }), pool, {
      random: createRandom(1),
    });
    expect(short.profileResults['prefill']).toBeUndefined();
  });

  it('requires a decider plugin or a threshold', () => {
    expect(() => loadSchedulerConfig(PD_LEGACY('{}'))).toThrow(SchedulerConfigError);
    expect(() => loadSchedulerConfig(PD_LEGACY('{}'))).toThrow(
      /deciderPluginName 'prefix-based-pd-decider'.*threshold/,
    );
  });

  it('rejects a handler whose decode profile does not exist', () => {
    expect(() => loadSchedulerConfig(PD_LEGACY("{threshold: 0, decodeProfile: 'dec'}"))).toThrow(
      /decode profile 'dec' is not defined/,
    );
  });
});
