/**
 * W12, churn (peer-routers.md §11 W12): the W1 shape at a constant Poisson rate while one of the 8
 * pods is killed and later re-added. A kill fails the pod's in-flight requests and, until the
 * router's health checks notice (3 failed 50 ms scrapes), the requests routed to it; the pod then
 * leaves the index. It returns with an empty cache.
 *
 * Scaled to run here: llm-d's 30 QPS with a kill at 120 s and a re-add at 240 s becomes the
 * cache-blind capacity (round robin at its limit, cache-aware policies with headroom even on 7
 * pods) for 180 s, kill at 60 s, re-add at 120 s. §11's 5% injected 5xx is not modelled.
 */
import { layoutStages } from './arrivals.ts';
import { fleetCapacity } from './capacity.ts';
import { engineConfigForFleet } from './fleet-shape.ts';
import { chooseStages } from './ladder.ts';
import { W1_SHAPE, w1Fleet } from './llm-d-shared-prefix.ts';
import { limitRequests } from './request-limit.ts';
import { sharedPrefixRequests } from './shared-prefix-requests.ts';
import type { WorkloadDefinition } from './types.ts';

export const CHURN_TIMELINE = { durationS: 180, killAtS: 60, restoreAtS: 120, pod: 7 };

const SUMMARY = 'W12: W1 shape at the cache-blind capacity; pod 7 killed at 60 s, re-added empty at 120 s';

export const churn: WorkloadDefinition = {
  name: 'churn',
  summary: SUMMARY,
  build(options) {
    const shape = W1_SHAPE;
    const fleet = w1Fleet(options);
    const capacity = fleetCapacity(engineConfigForFleet(fleet), fleet.pods, {
      promptTokens: shape.systemPromptLen + shape.questionLen,
      sharedTokens: shape.systemPromptLen,
      outputTokens: shape.outputLen,
      residentSharedTokensPerPod: (shape.groups * shape.systemPromptLen) / fleet.pods,
    });
    const rate = Math.round(capacity.coldRps * 10) / 10;
    const timeline = CHURN_TIMELINE;
    const stages = layoutStages(
      chooseStages(options, () => [{ rate, durationS: timeline.durationS }], timeline.durationS),
    );
    const end = stages.reduce((t, s) => Math.max(t, s.startS + s.durationS), 0);
    const scale = end / timeline.durationS;
    const pod = Math.min(timeline.pod, fleet.pods - 1);
    return {
      name: 'churn',
      description: SUMMARY,
      reference: 'peer-routers.md §11 W12',
      parameters: {
        ...Object.fromEntries(Object.entries(shape)),
        rate: stages.map((s) => s.rate).join(', '),
        kill: `pod ${pod} at ${(timeline.killAtS * scale).toFixed(0)} s`,
        restore: `at ${(timeline.restoreAtS * scale).toFixed(0)} s`,
      },
      stages,
      requests: limitRequests(
        sharedPrefixRequests({ shape, stages, arrivals: 'poisson', seed: options.seed }),
        options.maxRequests,
      ),
      fleetEvents: [
        { atS: timeline.killAtS * scale, action: 'kill', pod },
        { atS: timeline.restoreAtS * scale, action: 'restore', pod },
      ],
      fleet,
      notes: [
        `Rate = cache-blind capacity estimate (${capacity.coldRps.toFixed(1)} req/s); kill/restore times scale with --duration.`,
      ],
    };
  },
};
