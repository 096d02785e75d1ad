/**
 * A renderer for the subset of kustomize that `k8s/` uses, so manifests can be validated without
 * the kustomize binary. Anything outside the subset is an error, never silently ignored: a
 * kustomization that starts using a new feature fails here until the renderer learns it.
 *
 * Supported, with kustomize's semantics:
 * - `resources`: YAML files (multi-document) inside the kustomization root, and directories
 *   holding another Kustomization;
 * - `components`: directories holding a `kind: Component`, applied after this level's resources
 *   and generators, their transformers acting on everything accumulated so far;
 * - `configMapGenerator` (`files` with optional `key=path`, `literals`, `envs`, per-entry and
 *   top-level `options` for labels/annotations/`disableNameSuffixHash`): names get kustomize's
 *   content-hash suffix (api/hasher: sha256 over Go's JSON of {data, kind, name}, first 10 hex
 *   digits with 0/1/3/a/e swapped for g/h/k/m/t) and references from pod specs are rewritten;
 * - `namespace`: set on every namespaced object; RoleBinding subjects only when named `default`
 *   (kustomize's `setRoleBindingSubjects: defaultOnly`);
 * - `labels` (`pairs`, `includeSelectors`, `includeTemplates`) and `commonLabels`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as read from YAML. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** A rendered object and the file it came from (for error messages). */
export interface Rendered {
  readonly object: K8sObject;
  readonly source: string;
  /** Set for generated ConfigMaps: the name before the hash suffix. */
  readonly generatedName?: string;
}

/** Manifests are untyped JSON walked by path; `unknown` at every step would only add casts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

interface Accumulated {
  items: Array<{ object: K8sObject; source: string; generatedName?: string; hashed: boolean }>;
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const KUSTOMIZATION_KEYS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'resources',
  'components',
  'labels',
  'commonLabels',
  'configMapGenerator',
  'generatorOptions',
]);
const GENERATOR_KEYS = new Set(['name', 'files', 'literals', 'envs', 'options', 'behavior']);
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
  'Node',
]);
const POD_TEMPLATE_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'ReplicationController',
]);
const MATCH_LABEL_SELECTOR_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'PodDisruptionBudget',
]);

/** Renders the kustomization in `dir` (like `kustomize build dir`). */
export function renderKustomization(dir: string): Rendered[] {
  const accumulated = build(resolve(dir), 'Kustomization', { items: [] });
  // Hash suffixes and the name references to them are settled once, on the final objects.
  const renames = new Map<string, string>();
  for (const item of accumulated.items) {
    if (item.generatedName === undefined || !item.hashed) continue;
    const hashed = `${item.generatedName}-${kustomizeConfigMapHash(item.generatedName, (item.object.data ?? {}) as Record<string, string>)}`;
    renames.set(`${item.object.metadata.namespace ?? ''}/${item.generatedName}`, hashed);
    item.object.metadata.name = hashed;
  }
  for (const item of accumulated.items) rewriteConfigMapReferences(item.object, renames);
  return accumulated.items.map(({ object, source, generatedName }) =>
    generatedName === undefined ? { object, source } : { object, source, generatedName },
  );
}

/** kustomize's ConfigMap name suffix (api/hasher/hasher.go). */
export function kustomizeConfigMapHash(name: string, data: Record<string, string>): string {
  const hex = createHash('sha256')
    .update(goJson({ kind: 'ConfigMap', name, data }))
    .digest('hex');
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => swap[c] ?? c).join('');
}

/** Go's encoding/json output: map keys sorted, and <, >, & escaped as \u003c etc. */
function goJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    return JSON.stringify(value).replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  }
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  return `{${keys.map((key) => `${goJson(key)}:${goJson(record[key])}`).join(',')}}`;
}

function build(dir: string, expectedKind: 'Kustomization' | 'Component', into: Accumulated): Accumulated {
  const file = KUSTOMIZATION_FILES.map((name) => join(dir, name)).find((path) => existsSync(path));
  if (file === undefined) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parseSingle(file) as Record<string, unknown>;
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_KEYS.has(key))
      throw new Error(`${file}: "${key}" is not supported by the test renderer`);
  }
  const kind = (k.kind as string | undefined) ?? 'Kustomization';
  const apiVersion = k.apiVersion as string | undefined;
  if (kind !== expectedKind) throw new Error(`${file}: expected kind ${expectedKind}, found ${kind}`);
  const wantVersion =
    kind === 'Component' ? 'kustomize.config.k8s.io/v1alpha1' : 'kustomize.config.k8s.io/v1beta1';
  if (apiVersion !== undefined && apiVersion !== wantVersion) {
    throw new Error(`${file}: a ${kind} has apiVersion ${wantVersion}, not ${apiVersion}`);
  }

  // A Kustomization starts a fresh set; a Component works on its parent's.
  const own: Accumulated = kind === 'Component' ? into : { items: [] };
  for (const entry of asStringList(k.resources, file, 'resources')) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${file}: resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) {
      own.items.push(...build(path, 'Kustomization', { items: [] }).items);
    } else {
      assertInside(dir, path, file);
      for (const object of parseObjects(path)) own.items.push({ object, source: path, hashed: false });
    }
  }
  for (const generator of asList(k.configMapGenerator, file, 'configMapGenerator')) {
    own.items.push(generateConfigMap(dir, file, generator as Record<string, unknown>, k.generatorOptions));
  }
  for (const entry of asStringList(k.components, file, 'components')) {
    const path = resolve(dir, entry);
    if (!existsSync(path) || !statSync(path).isDirectory())
      throw new Error(`${file}: component ${entry} is not a directory`);
    build(path, 'Component', own);
  }

  // Transformers of this level, over everything accumulated at this level.
  for (const spec of asList(k.labels, file, 'labels')) {
    const { pairs, includeSelectors, includeTemplates, ...rest } = spec as Record<string, unknown>;
    if (Object.keys(rest).length > 0)
      throw new Error(`${file}: labels.${Object.keys(rest)[0]} is not supported`);
    applyLabels(
      own,
      pairs as Record<string, string>,
      includeSelectors === true,
      includeTemplates === true || includeSelectors === true,
    );
  }
  if (k.commonLabels !== undefined) applyLabels(own, k.commonLabels as Record<string, string>, true, true);
  if (k.namespace !== undefined) applyNamespace(own, String(k.namespace));

  if (kind === 'Kustomization') into.items.push(...own.items);
  return into;
}

function generateConfigMap(
  dir: string,
  file: string,
  generator: Record<string, unknown>,
  generatorOptions: unknown,
): Accumulated['items'][number] {
  for (const key of Object.keys(generator)) {
    if (!GENERATOR_KEYS.has(key)) throw new Error(`${file}: configMapGenerator.${key} is not supported`);
  }
  if (generator.behavior !== undefined && generator.behavior !== 'create') {
    throw new Error(`${file}: configMapGenerator behavior ${String(generator.behavior)} is not supported`);
  }
  const name = generator.name as string;
  const data: Record<string, string> = {};
  const put = (key: string, value: string) => {
    if (key in data) throw new Error(`${file}: configMapGenerator ${name}: duplicate key ${key}`);
    data[key] = value;
  };
  for (const entry of asStringList(generator.files, file, 'files')) {
    const eq = entry.indexOf('=');
    const [key, path] = eq === -1 ? [basename(entry), entry] : [entry.slice(0, eq), entry.slice(eq + 1)];
    const full = resolve(dir, path);
    assertInside(dir, full, file);
    put(key, readFileSync(full, 'utf8'));
  }
  for (const literal of asStringList(generator.literals, file, 'literals')) {
    const eq = literal.indexOf('=');
    if (eq <= 0) throw new Error(`${file}: literal ${JSON.stringify(literal)} is not KEY=VALUE`);
    put(literal.slice(0, eq), unquote(literal.slice(eq + 1)));
  }
  for (const envFile of asStringList(generator.envs, file, 'envs')) {
    const full = resolve(dir, envFile);
    assertInside(dir, full, file);
    for (const line of readFileSync(full, 'utf8').split('\n')) {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      const eq = trimmed.indexOf('=');
      if (eq <= 0)
        throw new Error(
          `${full}: env line ${JSON.stringify(line)} has no value (environment lookups are not supported)`,
        );
      put(trimmed.slice(0, eq), trimmed.slice(eq + 1));
    }
  }
  const global = (generatorOptions ?? {}) as {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    disableNameSuffixHash?: boolean;
  };
  const local = (generator.options ?? {}) as typeof global;
  const labels = { ...global.labels, ...local.labels };
  const annotations = { ...global.annotations, ...local.annotations };
  const object: K8sObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name,
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    data,
  };
  return {
    object,
    source: `${file} (configMapGenerator ${name})`,
    generatedName: name,
    hashed: !(global.disableNameSuffixHash === true || local.disableNameSuffixHash === true),
  };
}

function applyLabels(
  acc: Accumulated,
  pairs: Record<string, string>,
  selectors: boolean,
  templates: boolean,
): void {
  for (const { object } of acc.items) {
    object.metadata.labels = { ...object.metadata.labels, ...pairs };
    const spec = object.spec as Record<string, Json> | undefined;
    if (spec === undefined) continue;
    if (templates) {
      if (POD_TEMPLATE_KINDS.has(object.kind) && spec.template !== undefined) {
        spec.template.metadata = {
          ...spec.template.metadata,
          labels: { ...spec.template.metadata?.labels, ...pairs },
        };
      }
      if (object.kind === 'CronJob' && spec.jobTemplate?.spec?.template !== undefined) {
        const template = spec.jobTemplate.spec.template;
        template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...pairs } };
      }
    }
    if (!selectors) continue;
    if (MATCH_LABEL_SELECTOR_KINDS.has(object.kind)) {
      spec.selector = { ...spec.selector, matchLabels: { ...spec.selector?.matchLabels, ...pairs } };
    } else if (object.kind === 'Service' || object.kind === 'ReplicationController') {
      spec.selector = { ...spec.selector, ...pairs };
    } else if (object.kind === 'NetworkPolicy') {
      spec.podSelector = { ...spec.podSelector, matchLabels: { ...spec.podSelector?.matchLabels, ...pairs } };
    }
    if (object.kind === 'StatefulSet') {
      for (const claim of spec.volumeClaimTemplates ?? [])
        claim.metadata = { ...claim.metadata, labels: { ...claim.metadata?.labels, ...pairs } };
    }
  }
}

function applyNamespace(acc: Accumulated, namespace: string): void {
  for (const { object } of acc.items) {
    if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = namespace;
    if (object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding') {
      for (const subject of (object.subjects ?? []) as Array<Record<string, unknown>>) {
        if (subject.name === 'default') subject.namespace = namespace;
      }
    }
  }
}

/** Points pod-spec references at the hashed names of generated ConfigMaps in the same namespace. */
function rewriteConfigMapReferences(object: K8sObject, renames: Map<string, string>): void {
  const namespace = object.metadata.namespace ?? '';
  const rename = (holder: { name?: string } | undefined) => {
    if (holder?.name === undefined) return;
    const renamed = renames.get(`${namespace}/${holder.name}`);
    if (renamed !== undefined) holder.name = renamed;
  };
  for (const podSpec of podSpecsOf(object)) {
    for (const volume of (podSpec.volumes ?? []) as Array<Record<string, Json>>) {
      rename(volume.configMap);
      for (const source of volume.projected?.sources ?? []) rename(source.configMap);
    }
    for (const container of [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])] as Array<
      Record<string, Json>
    >) {
      for (const env of container.env ?? []) rename(env.valueFrom?.configMapKeyRef);
      for (const from of container.envFrom ?? []) rename(from.configMapRef);
    }
  }
}

/** The pod specs inside a workload (or Pod). */
export function podSpecsOf(object: K8sObject): Array<Record<string, Json>> {
  const spec = object.spec as Record<string, Json> | undefined;
  if (spec === undefined) return [];
  if (object.kind === 'Pod') return [spec];
  if (object.kind === 'CronJob')
    return spec.jobTemplate?.spec?.template?.spec ? [spec.jobTemplate.spec.template.spec] : [];
  return POD_TEMPLATE_KINDS.has(object.kind) && spec.template?.spec ? [spec.template.spec] : [];
}

function parseObjects(path: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value === null) continue;
    if (
      typeof value.apiVersion !== 'string' ||
      typeof value.kind !== 'string' ||
      typeof value.metadata?.name !== 'string'
    ) {
      throw new Error(`${path}: every document needs apiVersion, kind and metadata.name`);
    }
    objects.push(value);
  }
  return objects;
}

function parseSingle(path: string): unknown {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  if (docs.length !== 1 || docs[0]?.errors.length)
    throw new Error(`${path}: expected one valid YAML document`);
  return docs[0]?.toJS();
}

function asList(value: unknown, file: string, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`${file}: ${field} must be a list`);
  return value;
}

function asStringList(value: unknown, file: string, field: string): string[] {
  const list = asList(value, file, field);
  if (!list.every((entry) => typeof entry === 'string'))
    throw new Error(`${file}: ${field} must list strings`);
  return list as string[];
}

/** kustomize's load restrictor: generator and resource files must be inside the kustomization root. */
function assertInside(root: string, path: string, file: string): void {
  const rel = relative(root, path);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new Error(
      `${file}: ${path} is outside the kustomization root ${dirname(file)} (kustomize refuses this)`,
    );
  }
}

function unquote(value: string): string {
  return /^(['"]).*\1$/.test(value) ? value.slice(1, -1) : value;
}
