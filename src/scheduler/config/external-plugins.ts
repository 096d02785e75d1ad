/**
 * llm-d plugin types that appear in EndpointPickerConfig files but are run by other kvedge
 * components (llm-d-router.md §1.5, §2.9–2.10, §3.3–3.5). The scheduler accepts them so a
 * complete llm-d config loads, and returns them to the router untouched.
 */
import type { ExternalPluginType } from './registry.ts';

export const EXTERNAL_PLUGIN_TYPES: readonly ExternalPluginType[] = [
  { type: 'metrics-data-source', owner: 'fleet', summary: 'scrapes each endpoint /metrics' },
  { type: 'core-metrics-extractor', owner: 'fleet', summary: 'maps engine metrics to endpoint metrics' },
  { type: 'models-data-source', owner: 'fleet', summary: 'polls /v1/models' },
  { type: 'models-data-extractor', owner: 'fleet', summary: 'extracts served models' },
  { type: 'endpoint-notification-source', owner: 'fleet', summary: 'endpoint add/delete events' },
  { type: 'k8s-notification-source', owner: 'fleet', summary: 'watches a Kubernetes kind' },
  { type: 'file-discovery', owner: 'fleet', summary: 'endpoints from a file' },
  { type: 'openai-parser', owner: 'edge', summary: 'OpenAI request parser' },
  { type: 'anthropic-parser', owner: 'edge', summary: 'Anthropic request parser' },
  { type: 'vllmhttp-parser', owner: 'edge', summary: 'vLLM generate request parser' },
  { type: 'passthrough-parser', owner: 'edge', summary: 'no parsing' },
  { type: 'token-producer', owner: 'tokenization', summary: 'tokenizes prompts' },
  { type: 'tokenizer', owner: 'tokenization', summary: 'deprecated alias of token-producer' },
  {
    type: 'inflight-load-producer',
    owner: 'router',
    summary: 'in-flight counts (kvedge counts at dispatch)',
  },
];
