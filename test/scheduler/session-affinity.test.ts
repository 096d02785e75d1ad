import { describe, expect, it } from 'vitest';
import { sessionAffinityFilterPlugin } from '../../src/scheduler/filters/session-affinity-filter.ts';
import { sessionAffinityScorerPlugin } from '../../src/scheduler/scorers/session-affinity-scorer.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import type { Filter, Scorer } from '../../src/scheduler/types.ts';
import { buildPlugin, cycleFor, dispatchOf, endpoint, fleet, NOW, request } from './fixtures.ts';

const eps = [endpoint('10.0.0.1:8000'), endpoint('10.0.0.2:8000'), endpoint('10.0.0.3:8000')];
const token = (id: string) => Buffer.from(id).toString('base64');

describe('session-affinity-scorer, encoded_endpoint_header (default)', () => {
  const scorer = buildPlugin<Scorer, unknown>(sessionAffinityScorerPlugin);

  it('scores 1 for the endpoint in x-session-token and 0 for the others', () => {
    const cycle = cycleFor(request({ headers: { 'x-session-token': token('10.0.0.2:8000') } }));
    expect(Object.fromEntries(scorer.score(cycle, eps))).toEqual({
      '10.0.0.1:8000': 0,
      '10.0.0.2:8000': 1,
      '10.0.0.3:8000': 0,
    });
  });

  it('scores 0 everywhere without a token, and writes the chosen endpoint back', () => {
    const cycle = cycleFor(request());
    expect([...scorer.score(cycle, eps).values()]).toEqual([0, 0, 0]);
    const headers = { request: {}, response: {} as Record<string, string> };
    scorer.contributeHeaders?.(
      cycle,
      {
        primaryProfileName: 'default',
        profileResults: new Map([['default', { targets: ['10.0.0.3:8000'] }]]),
      },
      headers,
    );
    expect(headers.response['x-session-token']).toBe(token('10.0.0.3:8000'));
  });
});

describe('session-affinity-scorer, session_id', () => {
  const params = {
    strategy: 'session_id',
    sessionIdConfig: { evictionTtlSeconds: 300, evictionSweepSeconds: 10 },
  };

  it('binds the session at dispatch and expires it after evictionTtlSeconds', () => {
    const scorer = buildPlugin<Scorer, unknown>(sessionAffinityScorerPlugin, params, createInMemoryState());
    const req = request({ headers: { 'x-session-id': 's1' } });
    const first = cycleFor(req, fleet(eps, NOW));
    expect([...scorer.score(first, eps).values()]).toEqual([0, 0, 0]);
    scorer.onDispatch?.(dispatchOf(first, '10.0.0.3:8000'));

    const later = cycleFor(request({ headers: { 'x-session-id': 's1' } }), fleet(eps, NOW + 299_000));
    expect(scorer.score(later, eps).get('10.0.0.3:8000')).toBe(1);

    const expired = cycleFor(request({ headers: { 'x-session-id': 's1' } }), fleet(eps, NOW + 301_000));
    expect(scorer.score(expired, eps).get('10.0.0.3:8000')).toBe(0);
  });

  it('falls back to request.sessionId and does not change state while scoring', () => {
    const scorer = buildPlugin<Scorer, unknown>(sessionAffinityScorerPlugin, params, createInMemoryState());
    const cycle = cycleFor(request({ sessionId: 'edge-session' }), fleet(eps));
    scorer.score(cycle, eps);
    scorer.score(cycle, eps);
    expect(
      scorer.score(cycleFor(request({ sessionId: 'edge-session' }), fleet(eps)), eps).get('10.0.0.1:8000'),
    ).toBe(0);
    scorer.onDispatch?.(dispatchOf(cycle, '10.0.0.1:8000'));
    expect(
      scorer.score(cycleFor(request({ sessionId: 'edge-session' }), fleet(eps)), eps).get('10.0.0.1:8000'),
    ).toBe(1);
  });
});

describe('session-affinity-filter', () => {
  it('keeps only the pinned endpoint when it is a candidate, else everything', () => {
    const filter = buildPlugin<Filter, unknown>(sessionAffinityFilterPlugin);
    const pinned = cycleFor(request({ headers: { 'x-session-token': token('10.0.0.1:8000') } }));
    expect(filter.filter(pinned, eps).kept.map((e) => e.info.id)).toEqual(['10.0.0.1:8000']);
    const gone = cycleFor(request({ headers: { 'x-session-token': token('10.9.9.9:8000') } }));
    expect(filter.filter(gone, eps).kept).toHaveLength(3);
  });
});
