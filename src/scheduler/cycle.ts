/**
 * Per-`schedule()` scratch space (llm-d's `CycleState`): producer outputs, plugin state carried to
 * the dispatch hooks, shared request attributes and trace notes. Lives only for one call; what the
 * hooks need is handed over in `Decision.state`.
 */
import type { FleetView } from '../fleet/types.ts';
import type { Random } from './prng.ts';
import type { NoteTrace } from './trace.ts';
import type { DecisionState, SchedulingCycle, SchedulingRequest } from './types.ts';

/** Mutable implementation of {@link SchedulingCycle}, owned by the core. */
export class Cycle implements SchedulingCycle {
  readonly nowMs: number;
  readonly attributes = new Map<string, unknown>();
  readonly notes: NoteTrace[] = [];
  private readonly produced = new Map<string, unknown>();
  private readonly states = new Map<string, unknown>();

  constructor(
    readonly request: SchedulingRequest,
    readonly fleet: FleetView,
    readonly random: Random,
  ) {
    this.nowMs = fleet.nowMs;
  }

  producerData<T>(producerName: string): T | undefined {
    return this.produced.get(producerName) as T | undefined;
  }

  /** Stores a producer's output (core only). */
  setProducerData(producerName: string, value: unknown): void {
    this.produced.set(producerName, value);
  }

  pluginState<T>(pluginName: string): T | undefined {
    return this.states.get(pluginName) as T | undefined;
  }

  setPluginState(pluginName: string, value: unknown): void {
    this.states.set(pluginName, value);
  }

  note(pluginName: string, message: string): void {
    this.notes.push({ plugin: pluginName, message });
  }

  /** Snapshot handed to the dispatch hooks through the decision. */
  toDecisionState(): DecisionState {
    return { producerData: this.produced, pluginState: this.states, attributes: this.attributes };
  }
}
