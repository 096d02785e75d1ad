/**
 * Endpoint rules of vLLM's `ZmqEventPublisher` (shared reference `kv-events-and-hashing.md` §1.2).
 */

/**
 * vLLM's bind-or-connect heuristic for the PUB socket: bind when the endpoint contains `*` or `::`
 * or uses `ipc://` / `inproc://`; otherwise connect (a central subscriber binds, llm-d's "global
 * socket" mode). The replay ROUTER always binds.
 */
export function shouldBindEndpoint(endpoint: string): boolean {
  return (
    endpoint.includes('*') ||
    endpoint.includes('::') ||
    endpoint.startsWith('ipc://') ||
    endpoint.startsWith('inproc://')
  );
}

/**
 * vLLM's per-data-parallel-rank endpoint (`offset_endpoint_port`): rank 0 unchanged; `inproc`
 * endpoints get `_dp<rank>`; `tcp` endpoints get `port + rank` (the text after the last `:`).
 *
 * @throws {RangeError} for other transports, or a tcp endpoint whose port is not a number.
 */
export function offsetEndpointForRank(endpoint: string, rank: number): string {
  if (rank === 0) return endpoint;
  if (endpoint.includes('inproc')) return `${endpoint}_dp${rank}`;
  if (endpoint.includes('tcp')) {
    const colon = endpoint.lastIndexOf(':');
    const port = Number(endpoint.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port)) {
      throw new RangeError(`cannot offset the port of "${endpoint}" for DP rank ${rank}`);
    }
    return `${endpoint.slice(0, colon)}:${port + rank}`;
  }
  throw new RangeError(`invalid endpoint "${endpoint}": must contain 'inproc' or 'tcp'`);
}
