/**
 * Maps plugin type names to their definitions (llm-d's plugin registry,
 * `cmd/epp/runner/runner.go`). Besides the scheduler's own plugins it knows the types other kvedge
 * components own (data layer, parsers, tokenizer), so a full llm-d config loads: those are
 * validated by their owners, not here.
 */
import type { PluginDefinition } from '../plugin-definition.ts';

/** A plugin type the scheduler accepts in a config but another component runs. */
export interface ExternalPluginType {
  readonly type: string;
  /** Component that consumes it, e.g. `fleet` for `metrics-data-source`. */
  readonly owner: string;
  readonly summary: string;
}

export class PluginRegistry {
  private readonly definitions = new Map<string, PluginDefinition>();
  private readonly externals = new Map<string, ExternalPluginType>();

  /** Registers a scheduler plugin type; throws on a duplicate type name. */
  register<P>(definition: PluginDefinition<P>): this {
    this.assertFree(definition.type);
    this.definitions.set(definition.type, definition as PluginDefinition);
    return this;
  }

  /** Registers a type owned by another component. */
  registerExternal(external: ExternalPluginType): this {
    this.assertFree(external.type);
    this.externals.set(external.type, external);
    return this;
  }

  get(type: string): PluginDefinition | undefined {
    return this.definitions.get(type);
  }

  external(type: string): ExternalPluginType | undefined {
    return this.externals.get(type);
  }

  /** Scheduler plugin types, sorted. */
  types(): string[] {
    return [...this.definitions.keys()].sort();
  }

  /** Every accepted type (scheduler and external), sorted. */
  allTypes(): string[] {
    return [...this.definitions.keys(), ...this.externals.keys()].sort();
  }

  private assertFree(type: string): void {
    if (this.definitions.has(type) || this.externals.has(type)) {
      throw new Error(`plugin type '${type}' is already registered`);
    }
  }
}
