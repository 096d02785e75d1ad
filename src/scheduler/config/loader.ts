/**
 * Loads an llm-d `EndpointPickerConfig` (llm-d-router.md §3) into a runnable {@link Scheduler},
 * injecting llm-d's defaults (§3.2):
 *
 * - no config (or an empty one) → kvedge's own policy (`DEFAULT_POLICY`, the named config `kvedge`);
 *   llm-d's well-lit path stays available as the named config `llm-d-well-lit`;
 * - plugin `name` defaults to its `type`; scorer `weight` defaults to 1.0;
 * - `schedulingProfiles` omitted → one `default` profile with every filter, scorer and picker;
 * - a profile without a picker gets `max-score-picker`;
 * - one profile and no handler → `single-profile-handler`;
 * - a consumer of the default `approx-prefix-cache-producer` gets one created when absent;
 * - the saturation detector is `utilization-detector` unless `flowControl.saturationDetector`
 *   (or the deprecated top-level `saturationDetector`) names a configured one.
 *
 * Errors are {@link SchedulerConfigError}s naming the plugin/profile at fault and listing the valid
 * plugin types, parameters or pluginRefs.
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { AdmissionController } from '../admission/admission-controller.ts';
import type { InferenceObjective } from '../admission/inference-objectives.ts';
import { InferenceObjectiveResolver } from '../admission/inference-objectives.ts';
import type { SaturationDetector } from '../admission/saturation-detector.ts';
import { UtilizationDetector } from '../admission/utilization-detector.ts';
import { MAX_SCORE_PICKER_TYPE, maxScorePickerPlugin } from '../pickers/max-score-picker.ts';
import type { PluginBuildContext, PluginDefinition, PluginKind } from '../plugin-definition.ts';
import { DEFAULT_PREFIX_PRODUCER_NAME } from '../prefix-cache-match-info.ts';
import { APPROX_PREFIX_CACHE_PRODUCER_TYPE } from '../producers/approx-prefix-cache-producer.ts';
import {
  SINGLE_PROFILE_HANDLER_TYPE,
  singleProfileHandlerPlugin,
} from '../profile-handlers/single-profile-handler.ts';
import { Scheduler } from '../scheduler.ts';
import type { SchedulerStateFactory } from '../state.ts';
import { createInMemoryState } from '../state.ts';
import type {
  DataProducer,
  Filter,
  Picker,
  ProfileHandler,
  SchedulerPlugin,
  SchedulingProfile,
  WeightedScorer,
} from '../types.ts';
import { createBuiltinRegistry } from './builtin-plugins.ts';
import { SchedulerConfigError } from './config-error.ts';
import { DEFAULT_POLICY, namedConfigs, type NamedConfig } from './defaults.ts';
import type { ExternalPluginType, PluginRegistry } from './registry.ts';
import type { EndpointPickerConfig, SchedulingProfileSpec } from './schema.ts';
import { endpointPickerConfigSchema, LEGACY_API_VERSION } from './schema.ts';

/** Options of {@link loadSchedulerConfig}. */
export interface LoadOptions {
  /** Stores for stateful plugins; default in-memory. */
  readonly state?: SchedulerStateFactory;
  /** Allow Alpha plugin types (llm-d `--allow-experimental-plugins`); default false. */
  readonly allowExperimentalPlugins?: boolean;
  /** Plugin registry; default {@link createBuiltinRegistry}. */
  readonly registry?: PluginRegistry;
  /** InferenceObjectives for header → priority mapping. */
  readonly objectives?: readonly InferenceObjective[];
}

/** A plugin the config lists for another component (data layer, parsers, tokenizer). */
export interface ExternalPluginConfig {
  readonly name: string;
  readonly type: string;
  readonly owner: string;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** Everything a loaded config provides. */
export interface LoadedSchedulerConfig {
  readonly scheduler: Scheduler;
  /** Scheduler plugin instances by name (including injected defaults). */
  readonly plugins: ReadonlyMap<string, SchedulerPlugin>;
  readonly saturationDetector: SaturationDetector;
  readonly admission: AdmissionController;
  readonly objectives: InferenceObjectiveResolver;
  readonly externalPlugins: readonly ExternalPluginConfig[];
  readonly featureGates: readonly string[];
  readonly dataLayer?: Readonly<Record<string, unknown>>;
  readonly requestHandler?: Readonly<Record<string, unknown>>;
  readonly flowControl?: Readonly<Record<string, unknown>>;
  /** Deprecations and ignored settings. */
  readonly warnings: readonly string[];
  /** The validated document (before default injection). */
  readonly config: EndpointPickerConfig;
}

interface ResolvedPlugin {
  readonly name: string;
  readonly type: string;
  readonly definition?: PluginDefinition;
  readonly external?: ExternalPluginType;
  readonly params: unknown;
}

const BUILD_ORDER: readonly PluginKind[] = [
  'producer',
  'filter',
  'scorer',
  'picker',
  'decider',
  'profile-handler',
];
const PROFILE_KINDS = new Set<PluginKind>(['filter', 'scorer', 'picker']);

const flowControlDetectorSchema = z.object({
  saturationDetector: z.object({ pluginRef: z.string().min(1) }).optional(),
});

/**
 * Loads a config: YAML text, an already-parsed object, or nothing (the default config).
 * @throws SchedulerConfigError
 */
export function loadSchedulerConfig(
  source?: string | object | null,
  options: LoadOptions = {},
): LoadedSchedulerConfig {
  const config = validate(parseSource(source));
  return new ConfigBuilder(config, options).build();
}

/** Loads one of {@link namedConfigs}. */
export function loadNamedConfig(name: NamedConfig, options: LoadOptions = {}): LoadedSchedulerConfig {
  const yaml = namedConfigs[name];
  if (yaml === undefined) {
    throw new SchedulerConfigError(
      `unknown named config '${String(name)}'; valid: ${Object.keys(namedConfigs).join(', ')}`,
    );
  }
  return loadSchedulerConfig(yaml, options);
}

function parseSource(source: string | object | null | undefined): unknown {
  if (source === undefined || source === null) return parseYaml(namedConfigs[DEFAULT_POLICY]);
  if (typeof source !== 'string') return source;
  const value = parseYaml(source);
  return value === null || value === undefined ? parseYaml(namedConfigs[DEFAULT_POLICY]) : value;
}

function parseYaml(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    throw new SchedulerConfigError(`invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  return doc.toJS();
}

function validate(raw: unknown): EndpointPickerConfig {
  const parsed = endpointPickerConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const topLevelUnknown = parsed.error.issues.some(
    (i) => i.code === 'unrecognized_keys' && i.path.length === 0,
  );
  const hint = topLevelUnknown
    ? `\nvalid top-level keys: ${Object.keys(endpointPickerConfigSchema.shape).join(', ')}`
    : '';
  throw new SchedulerConfigError(`invalid EndpointPickerConfig:\n${z.prettifyError(parsed.error)}${hint}`);
}

/** Parameter names a plugin schema accepts, for error messages. */
function parameterNames(schema: z.ZodType): string {
  if (!(schema instanceof z.ZodObject)) return '(see the plugin documentation)';
  const keys = Object.keys(schema.shape);
  return keys.length === 0 ? 'none (this plugin takes no parameters)' : keys.join(', ');
}

class ConfigBuilder {
  private readonly registry: PluginRegistry;
  private readonly state: SchedulerStateFactory;
  private readonly warnings: string[] = [];
  private readonly resolved = new Map<string, ResolvedPlugin>();
  private readonly instances = new Map<string, SchedulerPlugin>();
  private readonly externals: ExternalPluginConfig[] = [];

  constructor(
    private readonly config: EndpointPickerConfig,
    private readonly options: LoadOptions,
  ) {
    this.registry = options.registry ?? createBuiltinRegistry();
    this.state = options.state ?? createInMemoryState();
  }

  build(): LoadedSchedulerConfig {
    const { config } = this;
    if (config.apiVersion === LEGACY_API_VERSION) {
      this.warnings.push(`apiVersion '${LEGACY_API_VERSION}' is deprecated; use 'llm-d.ai/v1alpha1'`);
    }
    if (config.saturationDetector) {
      this.warnings.push(
        "top-level 'saturationDetector' is deprecated; use 'flowControl.saturationDetector'",
      );
    }
    if (config.parser) this.warnings.push("top-level 'parser' is deprecated; use 'requestHandler.parsers'");

    config.plugins.forEach((spec, index) =>
      this.resolve(spec.name ?? spec.type, spec.type, spec.parameters, index),
    );
    this.injectConsumedProducers();
    for (const kind of BUILD_ORDER) {
      for (const plugin of this.resolved.values()) {
        if (plugin.definition?.kind === kind) this.instantiate(plugin);
      }
    }

    const profiles = this.buildProfiles();
    const handler = this.profileHandler(profiles);
    const producers = [...this.instances.values()].filter((p): p is DataProducer => p.kind === 'producer');
    const deciders = [...this.instances.values()].filter((p) => p.kind === 'decider');
    const scheduler = new Scheduler({ profiles, profileHandler: handler, producers, extraPlugins: deciders });
    const saturationDetector = this.saturationDetector();

    return {
      scheduler,
      plugins: this.instances,
      saturationDetector,
      admission: new AdmissionController(saturationDetector),
      objectives: new InferenceObjectiveResolver(this.options.objectives ?? []),
      externalPlugins: this.externals,
      featureGates: config.featureGates ?? [],
      ...(config.dataLayer ? { dataLayer: config.dataLayer } : {}),
      ...(config.requestHandler ? { requestHandler: config.requestHandler } : {}),
      ...(config.flowControl ? { flowControl: config.flowControl } : {}),
      warnings: this.warnings,
      config,
    };
  }

  private resolve(name: string, type: string, rawParams: unknown, index: number): void {
    const where = `plugins[${index}] '${name}'`;
    if (this.resolved.has(name)) {
      throw new SchedulerConfigError(
        `${where}: duplicate plugin name (give instances of the same type distinct 'name's)`,
      );
    }
    const external = this.registry.external(type);
    if (external) {
      const parameters = (rawParams ?? {}) as Record<string, unknown>;
      this.externals.push({ name, type, owner: external.owner, parameters });
      this.resolved.set(name, { name, type, external, params: parameters });
      return;
    }
    const definition = this.registry.get(type);
    if (!definition) {
      throw new SchedulerConfigError(
        `${where}: unknown plugin type '${type}'. Valid types: ${this.registry.allTypes().join(', ')}`,
      );
    }
    if (definition.stability === 'alpha' && !this.options.allowExperimentalPlugins) {
      throw new SchedulerConfigError(
        `${where}: plugin type '${type}' is Alpha; enable allowExperimentalPlugins (llm-d --allow-experimental-plugins)`,
      );
    }
    if (definition.stability === 'deprecated') {
      this.warnings.push(
        `${where}: plugin type '${type}' is deprecated${definition.replacedBy ? `; use '${definition.replacedBy}'` : ''}`,
      );
    }
    const parsed = definition.parameters.safeParse(rawParams ?? {});
    if (!parsed.success) {
      throw new SchedulerConfigError(
        `${where} (${type}): invalid parameters\n${z.prettifyError(parsed.error)}\n` +
          `valid parameters: ${parameterNames(definition.parameters)}`,
      );
    }
    this.resolved.set(name, { name, type, definition, params: parsed.data });
  }

  /** Creates the default approximate producer when a consumer needs it (llm-d `RegisterAsDefaultProducer`). */
  private injectConsumedProducers(): void {
    const order = [...this.resolved.keys()];
    for (const plugin of [...this.resolved.values()]) {
      for (const producer of plugin.definition?.consumesProducers?.(plugin.params) ?? []) {
        const existing = this.resolved.get(producer);
        if (existing) {
          if (existing.definition?.kind !== 'producer') {
            throw new SchedulerConfigError(
              `plugin '${plugin.name}' reads data producer '${producer}', but '${producer}' is a ${existing.type}`,
            );
          }
          // Producers run in config order, so one that reads another must come after it.
          if (
            plugin.definition?.kind === 'producer' &&
            order.indexOf(producer) >= order.indexOf(plugin.name)
          ) {
            throw new SchedulerConfigError(
              `data producer '${plugin.name}' reads '${producer}', which must be listed before it`,
            );
          }
          continue;
        }
        const definition = this.registry.get(APPROX_PREFIX_CACHE_PRODUCER_TYPE);
        // An injected producer runs last, too late for another producer to read.
        if (
          producer !== DEFAULT_PREFIX_PRODUCER_NAME ||
          !definition ||
          plugin.definition?.kind === 'producer'
        ) {
          const producers = [...this.resolved.values()]
            .filter((p) => p.definition?.kind === 'producer')
            .map((p) => p.name);
          throw new SchedulerConfigError(
            `plugin '${plugin.name}' reads data producer '${producer}', which is not configured ` +
              `(configured producers: ${producers.length > 0 ? producers.join(', ') : 'none'})`,
          );
        }
        this.resolved.set(producer, {
          name: producer,
          type: APPROX_PREFIX_CACHE_PRODUCER_TYPE,
          definition,
          params: definition.parameters.parse({}),
        });
      }
    }
  }

  private instantiate(plugin: ResolvedPlugin): void {
    const definition = plugin.definition as PluginDefinition;
    try {
      this.instances.set(plugin.name, definition.create(plugin.params, this.buildContext(plugin.name)));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new SchedulerConfigError(`plugin '${plugin.name}' (${plugin.type}): ${message}`);
    }
  }

  private buildProfiles(): SchedulingProfile[] {
    let specs: readonly SchedulingProfileSpec[] = this.config.schedulingProfiles ?? [];
    if (specs.length === 0) {
      const refs = [...this.instances.values()]
        .filter((p) => PROFILE_KINDS.has(p.kind))
        .map((p) => ({ pluginRef: p.name }));
      specs = [{ name: 'default', plugins: refs }];
    }
    const names = new Set<string>();
    return specs.map((spec) => {
      if (names.has(spec.name))
        throw new SchedulerConfigError(`duplicate scheduling profile name '${spec.name}'`);
      names.add(spec.name);
      return this.buildProfile(spec);
    });
  }

  private buildProfile(spec: SchedulingProfileSpec): SchedulingProfile {
    const where = `profile '${spec.name}'`;
    const filters: Filter[] = [];
    const scorers: WeightedScorer[] = [];
    const pickers: Picker[] = [];
    const seen = new Set<string>();
    for (const { pluginRef, weight } of spec.plugins) {
      if (seen.has(pluginRef))
        throw new SchedulerConfigError(`${where}: pluginRef '${pluginRef}' is listed twice`);
      seen.add(pluginRef);
      const resolved = this.resolved.get(pluginRef);
      if (!resolved) {
        throw new SchedulerConfigError(
          `${where}: unknown pluginRef '${pluginRef}' (a pluginRef is the name of an entry of 'plugins'; the name defaults to the type). ` +
            `Configured plugins: ${[...this.resolved.keys()].join(', ')}`,
        );
      }
      const plugin = this.instances.get(pluginRef);
      if (!plugin) {
        throw new SchedulerConfigError(
          `${where}: '${pluginRef}' (${resolved.type}) belongs to the ${resolved.external?.owner ?? 'router'} ` +
            'and cannot be part of a scheduling profile',
        );
      }
      if (weight !== undefined && plugin.kind !== 'scorer') {
        throw new SchedulerConfigError(
          `${where}: 'weight' is only valid for scorers, and '${pluginRef}' is a ${plugin.kind}`,
        );
      }
      switch (plugin.kind) {
        case 'filter':
          filters.push(plugin);
          break;
        case 'scorer':
          scorers.push({ scorer: plugin, weight: this.weight(where, pluginRef, weight) });
          break;
        case 'picker':
          pickers.push(plugin);
          break;
        default:
          throw new SchedulerConfigError(
            `${where}: '${pluginRef}' is a ${plugin.kind}; profiles take filters, scorers and one picker`,
          );
      }
    }
    if (pickers.length > 1) {
      throw new SchedulerConfigError(
        `${where}: a profile has one picker, got ${pickers.map((p) => p.name).join(', ')}`,
      );
    }
    return { name: spec.name, filters, scorers, picker: pickers[0] ?? this.defaultPicker() };
  }

  private weight(where: string, pluginRef: string, weight: unknown): number {
    if (weight === undefined) return 1;
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new SchedulerConfigError(
        `${where}: invalid weight ${JSON.stringify(weight)} for scorer '${pluginRef}' (expected a number ≥ 0; default 1)`,
      );
    }
    return weight;
  }

  /** The `max-score-picker` llm-d appends to profiles without a picker. */
  private defaultPicker(): Picker {
    const existing = this.instances.get(MAX_SCORE_PICKER_TYPE);
    if (existing?.kind === 'picker') return existing;
    const name = existing ? `${MAX_SCORE_PICKER_TYPE}#default` : MAX_SCORE_PICKER_TYPE;
    const picker = maxScorePickerPlugin.create(
      maxScorePickerPlugin.parameters.parse({}),
      this.buildContext(name),
    );
    this.instances.set(name, picker);
    return picker as Picker;
  }

  private profileHandler(profiles: readonly SchedulingProfile[]): ProfileHandler {
    const handlers = [...this.instances.values()].filter(
      (p): p is ProfileHandler => p.kind === 'profile-handler',
    );
    if (handlers.length > 1) {
      throw new SchedulerConfigError(
        `more than one profile handler configured: ${handlers.map((h) => h.name).join(', ')}`,
      );
    }
    let handler = handlers[0];
    if (!handler) {
      if (profiles.length !== 1) {
        const types = this.registry.types().filter((t) => this.registry.get(t)?.kind === 'profile-handler');
        throw new SchedulerConfigError(
          `${profiles.length} scheduling profiles need a profile handler; configure one of: ${types.join(', ')}`,
        );
      }
      handler = singleProfileHandlerPlugin.create(
        {},
        this.buildContext(SINGLE_PROFILE_HANDLER_TYPE),
      ) as ProfileHandler;
      this.instances.set(handler.name, handler);
    }
    if (handler.type === SINGLE_PROFILE_HANDLER_TYPE && profiles.length !== 1) {
      throw new SchedulerConfigError(
        `${SINGLE_PROFILE_HANDLER_TYPE} '${handler.name}' needs exactly one scheduling profile, got ${profiles.length}`,
      );
    }
    const problems = handler.checkProfiles?.(new Set(profiles.map((p) => p.name))) ?? [];
    if (problems.length > 0)
      throw new SchedulerConfigError(`profile handler '${handler.name}': ${problems.join('; ')}`);
    return handler;
  }

  private saturationDetector(): SaturationDetector {
    const flowControl = flowControlDetectorSchema.safeParse(this.config.flowControl ?? {});
    const ref =
      (flowControl.success ? flowControl.data.saturationDetector?.pluginRef : undefined) ??
      this.config.saturationDetector?.pluginRef;
    if (ref === undefined) return new UtilizationDetector();
    const plugin = this.instances.get(ref);
    if (!(plugin instanceof UtilizationDetector)) {
      throw new SchedulerConfigError(
        `saturation detector '${ref}' must name a configured utilization-detector plugin` +
          ` (configured plugins: ${[...this.resolved.keys()].join(', ')})`,
      );
    }
    return plugin;
  }

  private buildContext(name: string): PluginBuildContext {
    return {
      name,
      state: this.state,
      lookup: (n) => this.instances.get(n),
      pluginNames: () => [...this.resolved.keys()],
      warn: (message) => this.warnings.push(message),
    };
  }
}
