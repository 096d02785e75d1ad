/**
 * Typed access to `parse-prometheus-text-format`, an independent parser (ported from the Python
 * client) used to cross-check ours. Loaded through createRequire: the package ships no types,
 * and an ambient module declaration here could clash with another folder's.
 */
import { createRequire } from 'node:module';

export interface ReferenceMetric {
  value?: string;
  labels?: Record<string, string>;
  timestamp_ms?: string;
  buckets?: Record<string, string>;
  quantiles?: Record<string, string>;
  count?: string;
  sum?: string;
}

export interface ReferenceFamily {
  name: string;
  help: string;
  type: string;
  metrics: ReferenceMetric[];
}

export const parseWithReference = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => ReferenceFamily[];

/** The reference parser keeps values as text; read them the way Prometheus does. */
export function referenceNumber(text: string): number {
  switch (text) {
    case 'NaN':
      return NaN;
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    default:
      return Number(text);
  }
}
