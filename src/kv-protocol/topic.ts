/**
 * The `kv@<pod>@<model>` ZeroMQ topic convention of llm-d deployments (shared reference
 * `kv-events-and-hashing.md` §1.1, §4.5, §6 "Transport").
 *
 * Our parsing rule, which differs from llm-d's on purpose: the first `@`-separated segment must be
 * `kv`, the pod is the second segment, and the model is everything after the second `@`, so a model
 * name containing `@` survives (llm-d requires exactly three segments and otherwise files the event
 * under the whole topic with an empty model). A pod identity therefore cannot contain `@`
 * (it is `<ip>:<port>` in practice), and both pod and model must be non-empty.
 */

/** The topic prefix vLLM deployments use; also the SUB subscription prefix. */
export const KV_TOPIC_PREFIX = 'kv';

export interface KvTopic {
  /** Pod identity as published, conventionally `<pod-ip>:<serving-port>`. */
  readonly pod: string;
  /** Served (base) model name, e.g. `Qwen/Qwen3-0.6B`. */
  readonly model: string;
}

/**
 * Builds `kv@<pod>@<model>`.
 *
 * @throws {RangeError} if the pod is empty or contains `@`, or the model is empty.
 */
export function formatKvTopic(pod: string, model: string): string {
  if (pod.length === 0 || pod.includes('@'))
    throw new RangeError(`invalid pod identity for a KV topic: "${pod}"`);
  if (model.length === 0) throw new RangeError('KV topic model name must not be empty');
  return `${KV_TOPIC_PREFIX}@${pod}@${model}`;
}

/** Parses a topic by the rule above; `null` when it does not follow the convention. */
export function parseKvTopic(topic: string): KvTopic | null {
  const first = topic.indexOf('@');
  if (first < 0 || topic.slice(0, first) !== KV_TOPIC_PREFIX) return null;
  const second = topic.indexOf('@', first + 1);
  if (second < 0) return null;
  const pod = topic.slice(first + 1, second);
  const model = topic.slice(second + 1);
  if (pod.length === 0 || model.length === 0) return null;
  return { pod, model };
}
