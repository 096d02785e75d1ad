/**
 * Metric specifications in llm-d's `engineConfigs` syntax: a PromQL-style instant selector with
 * equality matchers only, `name` or `name{label=value,other="quoted"}` (quotes optional).
 */
import { labelsMatch, type PrometheusSample } from './prometheus-text.ts';

/** A metric name plus the label values a series must carry to match. */
export interface MetricSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

const SPEC_PATTERN = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$/s;
const MATCHER_PATTERN = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",}\s]+))\s*$/s;

/**
 * Parses `name{label=value,…}`. Quoted values may use `\"` and `\\` escapes.
 *
 * @throws {Error} naming the offending spec when it is not a valid selector.
 */
export function parseMetricSpec(spec: string): MetricSpec {
  const match = SPEC_PATTERN.exec(spec);
  if (match === null) throw new Error(`invalid metric spec ${JSON.stringify(spec)}`);
  const name = match[1] as string;
  const body = match[2];
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (body !== undefined && body.trim() !== '') {
    for (const part of splitMatchers(body)) {
      if (part.trim() === '') continue;
      const matcher = MATCHER_PATTERN.exec(part);
      if (matcher === null) {
        throw new Error(
          `invalid label matcher ${JSON.stringify(part.trim())} in metric spec ${JSON.stringify(spec)}`,
        );
      }
      const labelName = matcher[1] as string;
      const quoted = matcher[2];
      labels[labelName] = quoted !== undefined ? quoted.replace(/\\(.)/gs, '$1') : (matcher[3] as string);
    }
  }
  return { name, labels };
}

/** Splits on commas outside double quotes. */
function splitMatchers(body: string): string[] {
  const parts: string[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\' && inQuotes) i++;
    else if (c === '"') inQuotes = !inQuotes;
    else if (c === ',' && !inQuotes) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

/** Renders a spec back to its `name{label="value"}` form (for logs and error messages). */
export function formatMetricSpec(spec: MetricSpec): string {
  const pairs = Object.keys(spec.labels).map((key) => `${key}=${JSON.stringify(spec.labels[key])}`);
  return pairs.length === 0 ? spec.name : `${spec.name}{${pairs.join(',')}}`;
}

/**
 * The series that llm-d reads for a gauge or counter: among samples matching the spec, the one
 * with the latest timestamp; without timestamps (the usual case) the first one in the exposition.
 */
export function selectLatestByTimestamp(
  samples: readonly PrometheusSample[],
  spec: MetricSpec,
): PrometheusSample | undefined {
  let best: PrometheusSample | undefined;
  let bestTimestamp = -Infinity;
  for (const sample of samples) {
    if (sample.name !== spec.name || !labelsMatch(sample.labels, spec.labels)) continue;
    const timestamp = sample.timestampMs ?? 0;
    if (best === undefined || timestamp > bestTimestamp) {
      best = sample;
      bestTimestamp = timestamp;
    }
  }
  return best;
}

/**
 * The series with the largest value among samples matching the spec. Info-style gauges whose
 * value is the series' creation time (`vllm:lora_requests_info`) are read this way: every change
 * of the label set creates a new series and only the newest describes the current state.
 */
export function selectLatestByValue(
  samples: readonly PrometheusSample[],
  spec: MetricSpec,
): PrometheusSample | undefined {
  let best: PrometheusSample | undefined;
  for (const sample of samples) {
    if (sample.name !== spec.name || !labelsMatch(sample.labels, spec.labels)) continue;
    if (best === undefined || sample.value > best.value) best = sample;
  }
  return best;
}
