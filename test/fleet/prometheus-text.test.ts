import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  findSamples,
  parsePrometheusText,
  PrometheusParseError,
  sampleValue,
  type PrometheusFamilyMetadata,
  type PrometheusSample,
} from '../../src/fleet/prometheus-text.ts';
import { parseWithReference, referenceNumber, type ReferenceFamily } from './support/reference-parser.ts';

const fixture = readFileSync(new URL('./fixtures/vllm-metrics.prom', import.meta.url), 'utf8');

interface Comparable {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs: number | undefined;
}

const fromMine = (sample: PrometheusSample): Comparable => ({
  name: sample.name,
  labels: { ...sample.labels },
  value: sample.value,
  timestampMs: sample.timestampMs,
});

/**
 * Parses with both parsers and asserts they agree: every gauge/counter/untyped sample (name,
 * labels, value, timestamp), histogram buckets and summary quantiles with their sum and count,
 * and HELP/TYPE metadata.
 */
function crossCheck(text: string): { samples: PrometheusSample[]; reference: ReferenceFamily[] } {
  const reference = parseWithReference(text);
  const metadata = new Map<string, PrometheusFamilyMetadata>();
  const samples = parsePrometheusText(text, { metadata });

  const expected: Comparable[] = [];
  const compositeNames = new Set<string>();
  for (const family of reference) {
    if (family.help !== '') expect(metadata.get(family.name)?.help).toBe(family.help);
    if (family.type !== 'UNTYPED') expect(metadata.get(family.name)?.type).toBe(family.type.toLowerCase());

    if (family.type === 'HISTOGRAM' || family.type === 'SUMMARY') {
      const isHistogram = family.type === 'HISTOGRAM';
      const pointName = isHistogram ? `${family.name}_bucket` : family.name;
      const key = isHistogram ? 'le' : 'quantile';
      for (const name of [pointName, `${family.name}_sum`, `${family.name}_count`]) compositeNames.add(name);
      const points = Object.fromEntries(
        samples.filter((s) => s.name === pointName).map((s) => [s.labels[key], s.value]),
      );
      for (const metric of family.metrics) {
        const referencePoints = isHistogram ? metric.buckets : metric.quantiles;
        if (referencePoints !== undefined) {
          const asNumbers = Object.fromEntries(
            Object.entries(referencePoints).map(([k, v]) => [k, referenceNumber(v)]),
          );
          expect(points).toEqual(asNumbers);
        }
        if (metric.sum !== undefined) {
          expect(sampleValue(samples, `${family.name}_sum`)).toEqual(referenceNumber(metric.sum));
        }
        if (metric.count !== undefined) {
          expect(sampleValue(samples, `${family.name}_count`)).toEqual(referenceNumber(metric.count));
        }
      }
      continue;
    }
    for (const metric of family.metrics) {
      expected.push({
        name: family.name,
        labels: { ...metric.labels },
        value: referenceNumber(metric.value as string),
        timestampMs: metric.timestamp_ms === undefined ? undefined : Number(metric.timestamp_ms),
      });
    }
  }
  expect(samples.filter((s) => !compositeNames.has(s.name)).map(fromMine)).toEqual(expected);
  return { samples, reference };
}

describe('parsePrometheusText against parse-prometheus-text-format', () => {
  it('agrees on a realistic vLLM exposition', () => {
    const { samples, reference } = crossCheck(fixture);
    // Guard against a vacuous comparison: the fixture has 74 samples in 30+ families.
    expect(samples.length).toBe(74);
    expect(reference.length).toBeGreaterThanOrEqual(30);
  });

  it('reads the vLLM info gauges, escapes, special values and timestamps', () => {
    const samples = parsePrometheusText(fixture);
    const cache = findSamples(samples, 'vllm:cache_config_info')[0];
    expect(cache?.labels).toMatchObject({ block_size: '16', num_gpu_blocks: '27153', engine: '0' });
    expect(cache?.value).toBe(1);

    const lora = findSamples(samples, 'vllm:lora_requests_info', { running_lora_adapters: 'a,b' });
    expect(lora).toHaveLength(1);
    expect(lora[0]?.labels).toEqual({
      max_lora: '1',
      running_lora_adapters: 'a,b',
      waiting_lora_adapters: '',
    });
    expect(lora[0]?.value).toBe(1.7560240223017e9);

    const msdos = findSamples(samples, 'msdos_file_access_time_seconds')[0];
    expect(msdos?.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(msdos?.timestampMs).toBe(1395066363000);
    expect(sampleValue(samples, 'something_weird')).toBe(Infinity);
    expect(findSamples(samples, 'something_weird')[0]?.timestampMs).toBe(-3982045);
    expect(sampleValue(samples, 'negative_thing')).toBe(-Infinity);
    expect(sampleValue(samples, 'rpc_duration_seconds', { quantile: '0.99' })).toBeNaN();
    expect(sampleValue(samples, 'vllm:time_to_first_token_seconds_bucket', { le: '+Inf' })).toBe(1700);
    expect(sampleValue(samples, 'vllm:num_requests_waiting', { engine: '1' })).toBeUndefined();
  });

  it('agrees on generated expositions', () => {
    fc.assert(
      fc.property(expositionArbitrary(), (exposition) => {
        crossCheck(exposition.text);
        const samples = parsePrometheusText(exposition.text);
        expect(samples.map(fromMine)).toEqual(exposition.samples);
      }),
      { numRuns: 300 },
    );
  });
});

describe('parsePrometheusText details', () => {
  it('accepts CRLF line ends, blank lines, a trailing comma, blanks around tokens and no final newline', () => {
    const text = '\r\n# a comment\r\n  metric_a{ x = "1" , y="2",}\t3  \r\n\r\nmetric_b 4 1000';
    expect(parsePrometheusText(text).map(fromMine)).toEqual([
      { name: 'metric_a', labels: { x: '1', y: '2' }, value: 3, timestampMs: undefined },
      { name: 'metric_b', labels: {}, value: 4, timestampMs: 1000 },
    ]);
  });

  it('reads Go float spellings', () => {
    const text = ['a 1e3', 'b -0.5', 'c +Inf', 'd inf', 'e nan', 'f -Inf', 'g 0x10', 'h .5'].join('\n');
    expect(parsePrometheusText(text).map((s) => s.value)).toEqual([
      1000,
      -0.5,
      Infinity,
      Infinity,
      NaN,
      -Infinity,
      16,
      0.5,
    ]);
  });

  it('keeps a label named __proto__ as an ordinary label', () => {
    const [sample] = parsePrometheusText('m{__proto__="x"} 1');
    expect(sample?.labels['__proto__']).toBe('x');
    expect(Object.keys(sample?.labels ?? {})).toEqual(['__proto__']);
  });

  it('returns exactly the wanted samples when filtering by name', () => {
    fc.assert(
      fc.property(expositionArbitrary(), fc.integer({ min: 0, max: 2 ** 30 }), (exposition, pick) => {
        const all = parsePrometheusText(exposition.text);
        const distinct = [...new Set(all.map((s) => s.name))];
        // A subset of present names, plus absent names that share their prefixes.
        const wanted = new Set(distinct.filter((_, i) => (pick >> i) % 2 === 1));
        for (const name of distinct) wanted.add(`${name}_x`).add(name.slice(0, -1) || 'q');
        const filtered = parsePrometheusText(exposition.text, { names: wanted });
        expect(filtered).toEqual(all.filter((s) => wanted.has(s.name)));
      }),
      { numRuns: 200 },
    );
  });

  it('skips filtered-out lines without validating them', () => {
    const text = 'wanted 1\nunwanted{broken 2\nwanted{a="b"} 3\n';
    expect(parsePrometheusText(text, { names: new Set(['wanted']) }).map((s) => s.value)).toEqual([1, 3]);
    expect(() => parsePrometheusText(text)).toThrow(PrometheusParseError);
  });

  it.each([
    ['metric_without_value', 'missing value', 1, 21],
    ['ok 1\nm{a="b"', 'unterminated label set', 2, 8],
    ['m{a="unterminated} 1', 'unterminated label value', 1, 21],
    ['m{a="1",a="2"} 1', 'duplicate label a', 1, 12],
    ['m{a=1} 1', 'expected a quoted value for label a', 1, 5],
    ['m{1a="x"} 1', 'expected a label name', 1, 3],
    ['m 1 2 3', 'unexpected text after timestamp', 1, 7],
    ['m abc', 'invalid value "abc"', 1, 3],
    ['m 1 1.5', 'invalid timestamp "1.5"', 1, 5],
    ['m-x 1', 'invalid character "-" in metric name', 1, 2],
    ['9m 1', 'expected a metric name', 1, 1],
    ['m{a="b"}{c="d"} 1', 'invalid value', 1, 9],
  ])('rejects %j with line and column', (text, reason, line, column) => {
    let error: unknown;
    try {
      parsePrometheusText(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PrometheusParseError);
    const parseError = error as PrometheusParseError;
    expect(parseError.reason).toContain(reason);
    expect([parseError.line, parseError.column]).toEqual([line, column]);
  });

  it('collects HELP and TYPE, unescaping help text', () => {
    const metadata = new Map<string, PrometheusFamilyMetadata>();
    parsePrometheusText('# HELP x  two\\nlines \\\\ and \\q\n# TYPE x COUNTER\n#HELP y not metadata\nx 1\n', {
      metadata,
    });
    expect(metadata.get('x')).toEqual({ help: ' two\nlines \\ and \\q', type: 'counter' });
    expect(metadata.has('y')).toBe(false);
  });
});

// ---- generated expositions -------------------------------------------------------------

interface GeneratedFamily {
  name: string;
  type: 'gauge' | 'counter' | 'untyped';
  help: string | null;
  series: Array<{
    labels: Array<[string, string]>;
    value: number;
    timestampMs: number | null;
    trailingComma: boolean;
  }>;
}

const blank = fc.constantFrom(' ', '\t', '  ', ' \t');
const optionalBlank = fc.constantFrom('', ' ', '\t');

const labelValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom('a', ' ', '\\', '"', '\n', '{', '}', ',', '=', 'é', '日', '#', 'n'),
    maxLength: 12,
  }),
);

const labelSet = fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,8}$/), labelValue), {
  minLength: 1,
  maxLength: 3,
  selector: ([name]) => name,
});

const sampleValueArbitrary = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(NaN, Infinity, -Infinity, 0, -0),
);

const familyArbitrary: fc.Arbitrary<GeneratedFamily> = fc.record({
  name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,16}$/),
  type: fc.constantFrom('gauge', 'counter', 'untyped'),
  help: fc.option(fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/), { nil: null }),
  series: fc.oneof(
    // The reference parser merges consecutive samples with equal labels, so families hold one
    // label-less sample or several distinct label sets.
    fc
      .tuple(sampleValueArbitrary, fc.option(fc.integer({ min: -(2 ** 40), max: 2 ** 42 })))
      .map(([value, ts]) => [
        { labels: [] as Array<[string, string]>, value, timestampMs: ts, trailingComma: false },
      ]),
    fc.uniqueArray(
      fc.record({
        labels: labelSet,
        value: sampleValueArbitrary,
        timestampMs: fc.option(fc.integer({ min: -(2 ** 40), max: 2 ** 42 })),
        trailingComma: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4, selector: (series) => JSON.stringify([...series.labels].sort()) },
    ),
  ),
});

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

const escapeLabel = (value: string): string =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function expositionArbitrary(): fc.Arbitrary<{ text: string; samples: Comparable[] }> {
  return fc
    .record({
      families: fc.uniqueArray(familyArbitrary, {
        minLength: 1,
        maxLength: 6,
        selector: (family) => family.name,
      }),
      blanks: fc.array(fc.tuple(blank, optionalBlank, optionalBlank, blank), {
        minLength: 30,
        maxLength: 30,
      }),
      comments: fc.array(fc.constantFrom('', '# just a comment', '# HELPER text', '# TYPEs are below'), {
        minLength: 6,
        maxLength: 6,
      }),
    })
    .map(({ families, blanks, comments }) => {
      const lines: string[] = [];
      const samples: Comparable[] = [];
      let b = 0;
      families.forEach((family, familyIndex) => {
        const comment = comments[familyIndex] ?? '';
        if (comment !== '') lines.push(comment);
        if (family.help !== null) lines.push(`# HELP ${family.name} ${family.help}`);
        lines.push(`# TYPE ${family.name} ${family.type}`);
        for (const series of family.series) {
          const [gap, inner, around, beforeTs] = blanks[b++ % blanks.length] as [
            string,
            string,
            string,
            string,
          ];
          let line = family.name;
          if (series.labels.length > 0) {
            // The reference parser rejects blanks right after a comma (Prometheus allows them).
            const pairs = series.labels.map(
              ([k, v]) => `${k}${around}=${around}"${escapeLabel(v)}"${around}`,
            );
            line += `${inner}{${inner}${pairs.join(',')}${series.trailingComma ? ',' : ''}}`;
          }
          line += `${gap}${renderValue(series.value)}`;
          if (series.timestampMs !== null) line += `${beforeTs}${series.timestampMs}`;
          lines.push(line);
          samples.push({
            name: family.name,
            labels: Object.fromEntries(series.labels),
            value: Number.isNaN(series.value) ? NaN : series.value,
            timestampMs: series.timestampMs ?? undefined,
          });
        }
      });
      return { text: `${lines.join('\n')}\n`, samples };
    });
}
