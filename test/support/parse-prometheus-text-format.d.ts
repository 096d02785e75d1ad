/** Types for the independent Prometheus parser used to cross-check `/metrics` in tests. */
declare module 'parse-prometheus-text-format' {
  export interface PromMetricFamily {
    name: string;
    help: string;
    type: string;
    metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }>;
  }
  export default function parsePrometheusTextFormat(text: string): PromMetricFamily[];
}
