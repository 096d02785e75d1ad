/**
 * An optional plugin hook the scheduler's `Plugin` contract does not have yet: "the request's first
 * token arrived" (its prefill is done). Dynamo's active-sequence tracker moves a request's prefill
 * load to decode at that moment (peer-routers.md §2.3). The benchmark driver calls it on every
 * plugin that implements it; the live router would call it from the response relay.
 */

export interface FirstTokenEvent {
  readonly requestId: string;
  readonly endpointId: string;
  /** Router clock at the first token. */
  readonly nowMs: number;
}

export interface FirstTokenAware {
  onFirstToken(event: FirstTokenEvent): void;
}

export function isFirstTokenAware(plugin: unknown): plugin is FirstTokenAware {
  return (
    typeof plugin === 'object' &&
    plugin !== null &&
    typeof (plugin as Partial<FirstTokenAware>).onFirstToken === 'function'
  );
}
