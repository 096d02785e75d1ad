/**
 * Questions the manifest tests ask of rendered objects: which pods a selector picks, what a
 * container's effective security context is, which ports a pod declares.
 */
import { podSpecsOf, type Json, type K8sObject, type Rendered } from './kustomize.ts';
import { parseLabelSelector } from './selectors.ts';

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod']);

/** `Kind/name` for messages. */
export function id(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

export function find(rendered: readonly Rendered[], kind: string, name: string): K8sObject {
  const hit = rendered.find((r) => r.object.kind === kind && r.object.metadata.name === name);
  if (hit === undefined) throw new Error(`${kind}/${name} is not in the rendered output`);
  return hit.object;
}

export function ofKind(rendered: readonly Rendered[], kind: string): K8sObject[] {
  return rendered.filter((r) => r.object.kind === kind).map((r) => r.object);
}

export function workloads(rendered: readonly Rendered[]): K8sObject[] {
  return rendered.filter((r) => WORKLOAD_KINDS.has(r.object.kind)).map((r) => r.object);
}

/** The pod template's labels of a workload. */
export function podLabels(workload: K8sObject): Record<string, string> {
  const spec = workload.spec as Json;
  return (workload.kind === 'Pod' ? workload.metadata.labels : spec?.template?.metadata?.labels) ?? {};
}

export interface ContainerRef {
  readonly workload: K8sObject;
  readonly podSpec: Json;
  readonly container: Json;
  readonly init: boolean;
}

export function containers(workload: K8sObject): ContainerRef[] {
  return podSpecsOf(workload).flatMap((podSpec) => [
    ...((podSpec.initContainers ?? []) as Json[]).map((container) => ({
      workload,
      podSpec,
      container,
      init: true,
    })),
    ...((podSpec.containers ?? []) as Json[]).map((container) => ({
      workload,
      podSpec,
      container,
      init: false,
    })),
  ]);
}

/** A container's security setting, falling back to the pod's where Kubernetes does. */
export function effective(ref: ContainerRef, field: 'runAsNonRoot' | 'runAsUser' | 'seccompProfile'): Json {
  return ref.container.securityContext?.[field] ?? ref.podSpec.securityContext?.[field];
}

/** Does a `matchLabels`/`matchExpressions` selector (or a Service's plain map) pick these labels? */
export function selects(selector: Json, labels: Record<string, string>): boolean {
  if (selector === undefined || selector === null) return false;
  const isLabelSelector = 'matchLabels' in selector || 'matchExpressions' in selector;
  const matchLabels: Record<string, string> = isLabelSelector ? (selector.matchLabels ?? {}) : selector;
  if (!Object.entries(matchLabels).every(([key, value]) => labels[key] === value)) return false;
  for (const expression of (isLabelSelector ? selector.matchExpressions : undefined) ?? []) {
    const values = new Set<string>(expression.values ?? []);
    const has = expression.key in labels;
    const ok =
      expression.operator === 'In'
        ? has && values.has(labels[expression.key] as string)
        : expression.operator === 'NotIn'
          ? !has || !values.has(labels[expression.key] as string)
          : expression.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return Object.keys(matchLabels).length > 0 || (selector.matchExpressions ?? []).length > 0;
}

/** Does a label-selector string (as given to `--k8s-selector`) pick these labels? */
export function selectorStringSelects(selector: string, labels: Record<string, string>): boolean {
  return parseLabelSelector(selector)(labels);
}

/** Workloads whose pods `selector` picks. */
export function selectedWorkloads(rendered: readonly Rendered[], selector: Json): K8sObject[] {
  return workloads(rendered).filter((w) => selects(selector, podLabels(w)));
}

/** Named container ports of a workload's pods: name → port number. */
export function namedPorts(workload: K8sObject): Map<string, number> {
  const ports = new Map<string, number>();
  for (const { container } of containers(workload)) {
    for (const port of container.ports ?? []) if (port.name) ports.set(port.name, port.containerPort);
  }
  return ports;
}

/** The value following `flag` in an argument list (`--flag value` or `--flag=value`). */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === flag) return args[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}

/** Replicas a workload runs (1 when unset, as the API defaults it). */
export function replicas(workload: K8sObject): number {
  return ((workload.spec as Json)?.replicas as number | undefined) ?? 1;
}
