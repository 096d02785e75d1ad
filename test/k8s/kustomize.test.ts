/**
 * The test-side kustomize renderer: it must agree with kustomize where k8s/ relies on it, or the
 * manifest tests would validate something other than what `kubectl apply -k` applies.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kustomizeConfigMapHash, renderKustomization, type Json } from './support/kustomize.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kvedge-kustomize-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

describe('kustomizeConfigMapHash', () => {
  it('reproduces the names kustomize prints in the Kubernetes documentation', () => {
    // kubernetes.io "Declarative Management of Kubernetes Objects Using Kustomize".
    expect(kustomizeConfigMapHash('example-configmap-1', { 'application.properties': 'FOO=Bar\n' })).toBe(
      '8mbdf7882g',
    );
    expect(kustomizeConfigMapHash('example-configmap-2', { FOO: 'Bar' })).toBe('g2hdhfc6tk');
  });
});

describe('renderKustomization', () => {
  const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          image: app:1
          envFrom: [{configMapRef: {name: env}}]
          env: [{name: X, valueFrom: {configMapKeyRef: {name: env, key: A}}}]
      volumes: [{name: c, configMap: {name: files}}, {name: other, configMap: {name: not-generated}}]
`;

  it('applies resources, generators, components, labels and namespace as kustomize does', () => {
    write({
      'base/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs: {team: a}
    includeTemplates: true
resources: [deployment.yaml, rbac.yaml]
configMapGenerator:
  - name: env
    literals: [A=1, "B='two'"]
  - name: files
    files: [conf=settings.txt]
`,
      'base/deployment.yaml': DEPLOYMENT,
      'base/settings.txt': 'x <&> y\n',
      'base/rbac.yaml': `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
  - {kind: ServiceAccount, name: default, namespace: elsewhere}
  - {kind: ServiceAccount, name: app, namespace: elsewhere}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cr}
rules: []
`,
      'extra/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
commonLabels: {tier: backend}
resources: [service.yaml]
`,
      'extra/service.yaml':
        'apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec: {selector: {app: app}, ports: [{port: 80}]}\n',
      'overlay/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
resources: [../base]
components: [../extra]
`,
    });

    const rendered = renderKustomization(join(root, 'overlay'));
    const byName = Object.fromEntries(
      rendered.map((r) => [r.object.metadata.name.replace(/-[a-z0-9]{10}$/, ''), r.object as Json]),
    );
    const envName = `env-${kustomizeConfigMapHash('env', { A: '1', B: 'two' })}`;
    const filesName = `files-${kustomizeConfigMapHash('files', { conf: 'x <&> y\n' })}`;

    expect(byName.env.metadata.name).toBe(envName);
    expect(byName.files.metadata.name).toBe(filesName);
    const pod = byName.app.spec.template.spec;
    expect(pod.containers[0].envFrom[0].configMapRef.name).toBe(envName);
    expect(pod.containers[0].env[0].valueFrom.configMapKeyRef.name).toBe(envName);
    expect(pod.volumes.map((v: Json) => v.configMap.name)).toEqual([filesName, 'not-generated']);

    // The component's commonLabels act on everything its parent accumulated, selectors included.
    expect(byName.app.metadata.labels).toEqual({ team: 'a', tier: 'backend' });
    expect(byName.app.spec.selector.matchLabels).toEqual({ app: 'app', tier: 'backend' });
    expect(byName.app.spec.template.metadata.labels).toEqual({ app: 'app', team: 'a', tier: 'backend' });
    expect(byName.svc.spec.selector).toEqual({ app: 'app', tier: 'backend' });
    expect(byName.svc.metadata.labels).toEqual({ tier: 'backend' });

    expect(byName.app.metadata.namespace).toBe('prod');
    expect(byName.env.metadata.namespace).toBe('prod');
    expect(byName.cr.metadata.namespace).toBeUndefined();
    // kustomize only moves subjects named "default" (setRoleBindingSubjects: defaultOnly).
    expect(byName.rb.subjects.map((s: Json) => s.namespace)).toEqual(['prod', 'elsewhere']);
  });

  it('rejects what it does not implement, and what kustomize refuses', () => {
    write({ 'a/kustomization.yaml': 'namePrefix: x-\nresources: []\n' });
    expect(() => renderKustomization(join(root, 'a'))).toThrow(
      '"namePrefix" is not supported by the test renderer',
    );

    write({
      'b/kustomization.yaml': 'configMapGenerator: [{name: c, files: [../secret.txt]}]\n',
      'secret.txt': 's',
    });
    expect(() => renderKustomization(join(root, 'b'))).toThrow('is outside the kustomization root');

    write({
      'c/kustomization.yaml': 'components: [../d]\n',
      'd/kustomization.yaml': 'kind: Kustomization\n',
    });
    expect(() => renderKustomization(join(root, 'c'))).toThrow(
      'expected kind Component, found Kustomization',
    );

    write({ 'e/kustomization.yaml': 'resources: [missing.yaml]\n' });
    expect(() => renderKustomization(join(root, 'e'))).toThrow('resource missing.yaml does not exist');
  });
});
