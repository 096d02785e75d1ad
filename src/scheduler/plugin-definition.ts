/**
 * How a plugin type is described to the config loader: its llm-d type name, kind, stability,
 * a zod schema for its `parameters` (with llm-d's defaults), and a factory. Each plugin file
 * exports one definition; `config/builtin-plugins.ts` registers them.
 */
import type { z } from 'zod';
import type { SchedulerStateFactory } from './state.ts';
import type { SchedulerPlugin } from './types.ts';

/** Extension point a plugin type implements. */
export type PluginKind = 'filter' | 'scorer' | 'picker' | 'profile-handler' | 'producer' | 'decider';

/**
 * llm-d stability levels (llm-d-router.md §2.11). `alpha` types need `allowExperimentalPlugins`
 * (llm-d's `--allow-experimental-plugins`); `kvedge` marks types llm-d does not have.
 */
export type PluginStability = 'beta' | 'alpha' | 'deprecated' | 'kvedge';

/** What a factory gets besides its parameters. */
export interface PluginBuildContext {
  /** Instance name from the config (defaults to the type). */
  readonly name: string;
  /** Where stateful plugins get their stores (in-memory by default; Redis-backed later). */
  readonly state: SchedulerStateFactory;
  /** Plugins built so far, by name. Profile handlers are built last so they can find deciders. */
  lookup(name: string): SchedulerPlugin | undefined;
  /** Names of every plugin in the config, for error messages. */
  pluginNames(): readonly string[];
  /** Records a non-fatal config warning (deprecations, ignored parameters). */
  warn(message: string): void;
}

/** Describes one plugin type. `P` is the parsed parameter type (defaults applied). */
export interface PluginDefinition<P = unknown> {
  readonly type: string;
  readonly kind: PluginKind;
  readonly stability: PluginStability;
  /** One line for listings and error messages. */
  readonly summary: string;
  /** Parameter schema; unknown keys are rejected, defaults filled in. */
  readonly parameters: z.ZodType<P>;
  /** Current type to use instead, for deprecated types. */
  readonly replacedBy?: string;
  create(params: P, ctx: PluginBuildContext): SchedulerPlugin;
  /**
   * Names of data producers this instance reads. The loader auto-creates the default
   * `approx-prefix-cache-producer` when it is named here and not configured (llm-d §3.2).
   */
  consumesProducers?(params: P): readonly string[];
}

/** Identity helper that keeps `P` inferred from the schema. */
export function definePlugin<P>(definition: PluginDefinition<P>): PluginDefinition<P> {
  return definition;
}
