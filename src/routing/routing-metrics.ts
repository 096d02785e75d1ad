/**
 * Scheduler metrics, per acceptor thread (the supervisor sums threads). Names follow kvedge's
 * `kvedge_` prefix; the llm-d equivalents are noted so dashboards can be ported.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Decision, PluginTiming } from '../scheduler/types.ts';
import type { RoutingObserver } from './scheduler-routing-service.ts';

/** Decision times are tens of microseconds: buckets from 5 µs to 50 ms. */
const DECISION_BUCKETS = [5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2];
/** A turn waits for claim round trips (≈0.1 ms each) in a queue: 50 µs to 1 s. */
const TURN_WAIT_BUCKETS = [5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1];

export class RoutingMetrics implements RoutingObserver {
  private readonly decisionSeconds: Histogram;
  private readonly pluginSeconds: Histogram;
  private readonly decisions: Counter;
  private readonly shedTotal: Counter;
  private readonly prefixBlocks: Counter;
  private readonly placementClaims: Counter;
  private readonly placementClaimOutcomes: Counter;
  private readonly placementTurnWaits: Counter;
  private readonly placementTurnWaitSeconds: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    /** llm-d: `llm_d_inference_scheduler_scheduler_e2e_duration_seconds`. */
    this.decisionSeconds = new Histogram({
      name: 'kvedge_scheduler_decision_seconds',
      help: 'Time the scheduler took to pick an endpoint (filters, scorers, picker).',
      buckets: DECISION_BUCKETS,
      registers,
    });
    /** llm-d: `llm_d_inference_scheduler_plugin_duration_seconds{extension_point,plugin_type,plugin_name}`. */
    this.pluginSeconds = new Histogram({
      name: 'kvedge_scheduler_plugin_duration_seconds',
      help: 'Time spent in each scheduler plugin invocation.',
      labelNames: ['extension_point', 'plugin_type', 'plugin_name'],
      buckets: DECISION_BUCKETS,
      registers,
    });
    this.decisions = new Counter({
      name: 'kvedge_scheduler_decisions_total',
      help: 'Scheduling decisions by result.',
      labelNames: ['result'],
      registers,
    });
    /** llm-d: requests rejected with `x-llm-d-request-dropped-reason: rejected-saturated`. */
    this.shedTotal = new Counter({
      name: 'kvedge_requests_shed_total',
      help: 'Sheddable requests rejected with 429 while the pool was saturated.',
      labelNames: ['model'],
      registers,
    });
    /** llm-d: `llm_d_inference_scheduler_prefix_indexer_hit_ratio` (as matched/total block counters). */
    this.prefixBlocks = new Counter({
      name: 'kvedge_prefix_blocks_total',
      help: 'Prompt blocks looked up in the prefix index, and how many the chosen endpoint held.',
      labelNames: ['kind'],
      registers,
    });
    this.placementClaimOutcomes = new Counter({
      name: 'kvedge_placement_claims_total',
      help: 'Placement claims this router made, by outcome (won, taken by another, unavailable, error).',
      labelNames: ['outcome'],
      registers,
    });
    this.placementClaims = new Counter({
      name: 'kvedge_placement_claims_followed_total',
      help: "Other routers' placement claims followed, by whether the second decision agreed or was overridden.",
      labelNames: ['outcome'],
      registers,
    });
    this.placementTurnWaitSeconds = new Histogram({
      name: 'kvedge_placement_turn_wait_seconds',
      help: 'How long decisions that waited for earlier ones awaiting their placement claims waited.',
      buckets: TURN_WAIT_BUCKETS,
      registers,
    });
    this.placementTurnWaits = new Counter({
      name: 'kvedge_placement_turn_waits_total',
      help: 'Decisions that waited for earlier ones awaiting their placement claims: served (got the turn) or timed_out.',
      labelNames: ['outcome'],
      registers,
    });
  }

  decision(durationMs: number, decision: Decision): void {
    this.decisionSeconds.observe(durationMs / 1000);
    this.decisions.inc({ result: decision.failure ? decision.failure.reason : 'routed' });
    const match = prefixMatchOf(decision);
    if (match) {
      this.prefixBlocks.inc({ kind: 'queried' }, match.total);
      this.prefixBlocks.inc({ kind: 'matched' }, match.matched);
    }
  }

  pluginTiming(t: PluginTiming): void {
    this.pluginSeconds.observe(
      { extension_point: t.extensionPoint, plugin_type: t.pluginType, plugin_name: t.pluginName },
      t.durationMs / 1000,
    );
  }

  shed(model: string): void {
    this.shedTotal.inc({ model });
  }

  placementClaimOutcome(outcome: string): void {
    this.placementClaimOutcomes.inc({ outcome });
  }

  placementClaim(agreed: boolean): void {
    this.placementClaims.inc({ outcome: agreed ? 'agreed' : 'overridden' });
  }

  placementTurnWait(served: boolean, waitedMs: number): void {
    this.placementTurnWaits.inc({ outcome: served ? 'served' : 'timed_out' });
    this.placementTurnWaitSeconds.observe(waitedMs / 1000);
  }
}

/** Blocks the chosen endpoint matched, from the prefix producer's trace summary. */
function prefixMatchOf(decision: Decision): { matched: number; total: number } | null {
  const endpoint = decision.endpointId;
  if (!endpoint) return null;
  for (const p of decision.trace.producers) {
    const s = p.summary as { totalBlocks?: number; matchedBlocks?: Record<string, number> } | null;
    if (s && typeof s === 'object' && typeof s.totalBlocks === 'number' && s.matchedBlocks) {
      return { matched: s.matchedBlocks[endpoint] ?? 0, total: s.totalBlocks };
    }
  }
  return null;
}
