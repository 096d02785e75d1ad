/**
 * Validates manifests against the Kubernetes OpenAPI schemas, offline:
 *
 * 1. Built-in kinds: `kubernetes-models` (generated from the Kubernetes OpenAPI spec; each model's
 *    `validate()` runs the compiled JSON schema: types, required fields, enums, formats such as
 *    resource quantities). It is a dev dependency loaded by name at run time, so that a missing
 *    install is a clear test failure rather than a type error elsewhere.
 * 2. Unknown fields, which those schemas allow (as the API server's non-strict decoding does, so a
 *    typo such as `readinessprobe` would be silently dropped): checked against the field lists of
 *    `@kubernetes/client-node`'s generated models, like `kubeconform -strict`.
 * 3. InferencePool (`inference.networking.k8s.io/v1`), a CRD no package ships: {@link inferencePoolV1Schema}.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { inferencePoolV1Schema } from './inference-pool-schema.ts';
import type { K8sObject } from './kustomize.ts';

/** The package (and version the lead installs as a dev dependency) holding the schemas. */
export const SCHEMA_PACKAGE = 'kubernetes-models';
export const SCHEMA_PACKAGE_VERSION = '4.5.1';

interface ModelClass {
  new (data: unknown): { validate(): void };
}

const modules = new Map<string, Promise<Record<string, unknown>>>();

/** `apps/v1` → `kubernetes-models/apps/v1`; the core group `v1` → `kubernetes-models/v1`. */
async function modelModule(apiVersion: string): Promise<Record<string, unknown>> {
  const specifier = `${SCHEMA_PACKAGE}/${apiVersion}`;
  let loaded = modules.get(specifier);
  if (loaded === undefined) {
    loaded = import(specifier).catch((error: Error) => {
      if (
        !existsSync(
          fileURLToPath(new URL(`../../../node_modules/${SCHEMA_PACKAGE}/package.json`, import.meta.url)),
        )
      ) {
        throw new Error(
          `${SCHEMA_PACKAGE} is not installed: it provides the Kubernetes JSON schemas these tests validate against ` +
            `(npm install --save-dev ${SCHEMA_PACKAGE}@${SCHEMA_PACKAGE_VERSION})`,
          { cause: error },
        );
      }
      throw new Error(
        `no Kubernetes schemas for apiVersion ${apiVersion} in ${SCHEMA_PACKAGE}: ${error.message}`,
        { cause: error },
      );
    });
    modules.set(specifier, loaded);
  }
  return loaded;
}

/** Throws when the schema package cannot be loaded, with the install command in the message. */
export async function assertSchemasAvailable(): Promise<void> {
  await modelModule('v1');
}

/** Every problem with `object`, as `path: message` strings; empty when valid. */
export async function validateManifest(object: K8sObject): Promise<string[]> {
  if (object.apiVersion === 'inference.networking.k8s.io/v1' && object.kind === 'InferencePool') {
    const result = inferencePoolV1Schema.safeParse(object);
    return result.success
      ? []
      : result.error.issues.map((issue) => `/${issue.path.join('/')}: ${issue.message}`);
  }
  const module = await modelModule(object.apiVersion);
  const Model = module[object.kind] as ModelClass | undefined;
  if (typeof Model !== 'function')
    return [`no schema for ${object.apiVersion} ${object.kind} in ${SCHEMA_PACKAGE}`];
  const problems: string[] = [];
  try {
    new Model(object).validate();
  } catch (error) {
    const errors = (
      error as { errors?: Array<{ instancePath?: string; message?: string; params?: unknown }> }
    ).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      for (const e of errors)
        problems.push(
          `${e.instancePath || '/'}: ${e.message ?? 'invalid'} ${JSON.stringify(e.params ?? {})}`,
        );
    } else {
      problems.push((error as Error).message);
    }
  }
  problems.push(...unknownFields(object));
  return problems;
}

/**
 * Fields that the Kubernetes type of `object` does not have, found by walking client-node's
 * generated models (`V1Deployment`, `V2HorizontalPodAutoscaler`, ...) and their attribute types.
 */
export function unknownFields(object: K8sObject): string[] {
  const [group, version] = object.apiVersion.includes('/')
    ? object.apiVersion.split('/')
    : ['', object.apiVersion];
  const typeName = `${capitalize(version ?? '')}${object.kind}`;
  if (modelClass(typeName) === undefined) {
    return [`no client-node model ${typeName} for ${group ? `${group}/` : ''}${version} ${object.kind}`];
  }
  const problems: string[] = [];
  walk(object, typeName, '', problems);
  return problems;
}

type AttributeTypeMap = ReadonlyArray<{ baseName: string; type: string }>;

function modelClass(typeName: string): { getAttributeTypeMap(): AttributeTypeMap } | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[typeName] as
    { getAttributeTypeMap?: () => AttributeTypeMap } | undefined;
  return typeof candidate?.getAttributeTypeMap === 'function'
    ? (candidate as { getAttributeTypeMap(): AttributeTypeMap })
    : undefined;
}

function walk(value: unknown, typeName: string, path: string, problems: string[]): void {
  if (value === null || value === undefined) return;
  if (typeName.startsWith('Array<') && typeName.endsWith('>')) {
    if (Array.isArray(value))
      value.forEach((item, i) => walk(item, typeName.slice(6, -1), `${path}/${i}`, problems));
    return;
  }
  const map = typeName.match(/^\{ \[key: string\]: (.+); \}$/);
  if (map !== null) {
    if (typeof value === 'object') {
      for (const [key, item] of Object.entries(value))
        walk(item, map[1] as string, `${path}/${key}`, problems);
    }
    return;
  }
  const model = modelClass(typeName);
  // Primitives, IntOrString, quantities, `any`: the schema validation covers their values.
  if (model === undefined || typeof value !== 'object' || Array.isArray(value)) return;
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, item] of Object.entries(value)) {
    const type = attributes.get(key);
    if (type === undefined) problems.push(`${path}/${key}: unknown field (not in ${typeName})`);
    else walk(item, type, `${path}/${key}`, problems);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
