import { describe, expect, it } from 'vitest';
import { byLabelFilterPlugin } from '../../src/scheduler/filters/by-label-filter.ts';
import { decodeFilterPlugin } from '../../src/scheduler/filters/decode-filter.ts';
import { encodeFilterPlugin } from '../../src/scheduler/filters/encode-filter.ts';
import {
  labelSelectorFilterPlugin,
  matchesSelector,
} from '../../src/scheduler/filters/label-selector-filter.ts';
import { prefillFilterPlugin } from '../../src/scheduler/filters/prefill-filter.ts';
import type { PluginDefinition } from '../../src/scheduler/plugin-definition.ts';
import type { Filter } from '../../src/scheduler/types.ts';
import { buildPlugin, cycleFor, endpoint } from './fixtures.ts';

const build = <P>(definition: PluginDefinition<P>, params: unknown = {}) =>
  buildPlugin<Filter, P>(definition, params);

const byRole = [
  'decode',
  'prefill',
  'prefill-decode',
  'both',
  'encode',
  'encode-prefill',
  'encode-prefill-decode',
  'other',
].map((role) => endpoint(`${role}:8000`, { labels: { 'llm-d.ai/role': role } }));
const unlabeled = endpoint('plain:8000');
const all = [...byRole, unlabeled];

function keptHosts(filter: Filter): string[] {
  return filter
    .filter(cycleFor(), all)
    .kept.map((e) => e.info.host)
    .sort();
}

describe('role filters (llm-d-router.md §2.4)', () => {
  it('decode-filter keeps decode roles and unlabeled endpoints', () => {
    expect(keptHosts(build(decodeFilterPlugin))).toEqual(
      ['both', 'decode', 'encode-prefill-decode', 'plain', 'prefill-decode'].sort(),
    );
  });

  it('prefill-filter keeps prefill roles and excludes unlabeled endpoints', () => {
    expect(keptHosts(build(prefillFilterPlugin))).toEqual(
      ['both', 'encode-prefill', 'encode-prefill-decode', 'prefill', 'prefill-decode'].sort(),
    );
  });

  it('encode-filter keeps encode roles only', () => {
    expect(keptHosts(build(encodeFilterPlugin))).toEqual([
      'encode',
      'encode-prefill',
      'encode-prefill-decode',
    ]);
  });

  it('explains drops', () => {
    const result = build(prefillFilterPlugin).filter(cycleFor(), [unlabeled, byRole[0]!]);
    expect(result.reasons?.get('plain:8000')).toBe('no llm-d.ai/role label');
    expect(result.reasons?.get('decode:8000')).toBe('llm-d.ai/role=decode');
  });
});

describe('label-selector-filter', () => {
  const labels = { zone: 'a', tier: 'gpu' };

  it('applies matchLabels and each operator with Kubernetes semantics', () => {
    const sel = (s: object) => labelSelectorFilterPlugin.parameters.parse(s);
    expect(matchesSelector(labels, sel({ matchLabels: { zone: 'a' } }))).toBe(true);
    expect(matchesSelector(labels, sel({ matchLabels: { zone: 'b' } }))).toBe(false);
    expect(
      matchesSelector(
        labels,
        sel({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }),
      ),
    ).toBe(true);
    expect(
      matchesSelector(labels, sel({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['c'] }] })),
    ).toBe(false);
    expect(
      matchesSelector(labels, sel({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] })),
    ).toBe(false);
    // NotIn matches when the key is absent.
    expect(
      matchesSelector(
        labels,
        sel({ matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['r1'] }] }),
      ),
    ).toBe(true);
    expect(matchesSelector(labels, sel({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }))).toBe(
      true,
    );
    expect(
      matchesSelector(labels, sel({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] })),
    ).toBe(false);
    expect(matchesSelector(labels, sel({}))).toBe(true);
  });

  it('rejects In without values', () => {
    const parsed = labelSelectorFilterPlugin.parameters.safeParse({
      matchExpressions: [{ key: 'zone', operator: 'In' }],
    });
    expect(parsed.success).toBe(false);
  });

  it('filters endpoints', () => {
    const filter = build(labelSelectorFilterPlugin, { matchLabels: { 'llm-d.ai/role': 'prefill' } });
    expect(filter.filter(cycleFor(), all).kept.map((e) => e.info.host)).toEqual(['prefill']);
  });
});

describe('by-label (deprecated)', () => {
  it('keeps valid values and unlabeled only when allowsNoLabel', () => {
    const strict = build(byLabelFilterPlugin, { label: 'llm-d.ai/role', validValues: ['decode', 'both'] });
    expect(keptHosts(strict)).toEqual(['both', 'decode']);
    const lenient = build(byLabelFilterPlugin, {
      label: 'llm-d.ai/role',
      validValues: ['decode'],
      allowsNoLabel: true,
    });
    expect(keptHosts(lenient)).toEqual(['decode', 'plain']);
  });
});
