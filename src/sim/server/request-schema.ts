/**
 * Request bodies the simulator accepts, validated the way vLLM's OpenAI server does (pydantic
 * models with extra fields allowed). Only fields that change what a router can observe are typed;
 * sampling parameters are accepted and ignored.
 */
import { z } from 'zod';

const contentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

const chatMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(z.unknown()).optional(),
  tool_call_id: z.string().optional(),
});

const streamOptions = z
  .looseObject({
    include_usage: z.boolean().nullish(),
    continuous_usage_stats: z.boolean().nullish(),
  })
  .nullish();

/** vLLM's NIXL connector parameters (P/D disaggregation). */
const kvTransferParams = z
  .looseObject({
    do_remote_decode: z.boolean().optional(),
    do_remote_prefill: z.boolean().optional(),
  })
  .nullish();

const common = {
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  stream_options: streamOptions,
  max_tokens: z.number().int().positive().nullish(),
  n: z.number().int().min(1).max(1, 'the simulator supports n=1 only').nullish(),
  cache_salt: z.string().min(1).nullish(),
  kv_transfer_params: kvTransferParams,
  priority: z.number().int().nullish(),
  user: z.string().nullish(),
};

export const chatCompletionRequest = z.looseObject({
  ...common,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: z.number().int().positive().nullish(),
  add_generation_prompt: z.boolean().nullish(),
  continue_final_message: z.boolean().nullish(),
  tools: z.array(z.unknown()).nullish(),
  documents: z.array(z.unknown()).nullish(),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
});

const tokenIds = z.array(z.number().int().nonnegative());

export const completionRequest = z.looseObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1), tokenIds.min(1), z.array(tokenIds.min(1)).min(1)]),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;
export type CompletionRequest = z.infer<typeof completionRequest>;

/** First validation issue as a one-line message naming the offending field, as vLLM's 400s do. */
export function describeIssue(error: z.ZodError): { message: string; param: string | null } {
  const issue = error.issues[0];
  if (!issue) return { message: 'Invalid request body.', param: null };
  const param = issue.path.length > 0 ? issue.path.join('.') : null;
  return { message: param ? `Invalid value for '${param}': ${issue.message}` : issue.message, param };
}
