/**
 * InferenceObjective priorities (llm-d-router.md §1.4 step 2, §6): the request header
 * `x-llm-d-inference-objective` (legacy `x-gateway-inference-objective`) names an objective, whose
 * `priority` (int, default 0; negative = sheddable) becomes the request's priority. A missing
 * header or an unknown name gives priority 0.
 *
 * Objectives come from config: Kubernetes `InferenceObjective` documents
 * (`llm-d.ai/v1alpha2`, `metadata.name`, `spec.priority`), or a plain list of `{name, priority}`
 * (optionally under `objectives:`).
 */
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

export const OBJECTIVE_HEADER = 'x-llm-d-inference-objective';
export const LEGACY_OBJECTIVE_HEADER = 'x-gateway-inference-objective';

export interface InferenceObjective {
  readonly name: string;
  readonly priority: number;
}

const plainEntry = z.strictObject({ name: z.string().min(1), priority: z.int().default(0) });
const k8sObjective = z.object({
  kind: z.literal('InferenceObjective'),
  metadata: z.object({ name: z.string().min(1) }),
  spec: z.object({ priority: z.int().optional() }).prefault({}),
});

export class InferenceObjectiveResolver {
  private readonly priorities: ReadonlyMap<string, number>;

  constructor(objectives: readonly InferenceObjective[] = []) {
    this.priorities = new Map(objectives.map((o) => [o.name, o.priority]));
  }

  /** Objective name from lower-cased request headers, if any. */
  objectiveFor(headers: Readonly<Record<string, string>>): string | undefined {
    return headers[OBJECTIVE_HEADER] || headers[LEGACY_OBJECTIVE_HEADER] || undefined;
  }

  /** Priority for the request's objective (0 when absent or unknown). */
  priorityFor(headers: Readonly<Record<string, string>>): number {
    const name = this.objectiveFor(headers);
    return name === undefined ? 0 : (this.priorities.get(name) ?? 0);
  }
}

/** Parses objectives from YAML (see module docs); throws with the validation errors. */
export function parseInferenceObjectives(text: string): InferenceObjective[] {
  const out: InferenceObjective[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (Array.isArray(doc)) throw new Error('invalid YAML in inference objectives');
    if (doc.errors.length > 0)
      throw new Error(`invalid YAML in inference objectives: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const items = Array.isArray(value)
      ? value
      : typeof value === 'object' && 'objectives' in value && Array.isArray(value.objectives)
        ? value.objectives
        : typeof value === 'object' && 'items' in value && Array.isArray(value.items)
          ? value.items
          : [value];
    for (const item of items as unknown[]) out.push(parseObjective(item));
  }
  return out;
}

function parseObjective(item: unknown): InferenceObjective {
  const k8s = k8sObjective.safeParse(item);
  if (k8s.success) return { name: k8s.data.metadata.name, priority: k8s.data.spec.priority ?? 0 };
  const plain = plainEntry.safeParse(item);
  if (plain.success) return plain.data;
  throw new Error(`invalid inference objective ${JSON.stringify(item)}: ${z.prettifyError(plain.error)}`);
}
