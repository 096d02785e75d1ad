/**
 * Errors a caller can act on: bad input is the client's fault (HTTP 400 in vLLM), a template
 * failure is the template's (vLLM also answers 400, with the template's message).
 */

/** The request cannot be tokenized as given (bad message, unsupported content, bad prompt). */
export class TokenizationInputError extends Error {
  override readonly name = 'TokenizationInputError';
}

/** The chat template failed to render, or called `raise_exception`. */
export class ChatTemplateError extends Error {
  override readonly name = 'ChatTemplateError';
}
