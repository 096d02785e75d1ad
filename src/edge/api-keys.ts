/**
 * Optional bearer-key authentication. Keys are compared as SHA-256 digests with timingSafeEqual:
 * digests have equal length whatever the key length, so neither a key's length nor a matching
 * prefix shows in response time, and every configured key is compared on each request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../http/openai-error.ts';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export class ApiKeyVerifier {
  private readonly digests: readonly Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  /** False when no keys are configured: every request is accepted. */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Throws HttpError(401) unless `authorization` is `Bearer <one of the keys>` (or auth is disabled). */
  check(authorization: string | undefined): void {
    if (!this.enabled) return;
    const match = authorization === undefined ? null : BEARER.exec(authorization);
    if (match === null) {
      throw new HttpError(401, 'Missing bearer API key in the Authorization header.');
    }
    const presented = digest(match[1]!);
    let accepted = false;
    for (const known of this.digests) accepted = timingSafeEqual(presented, known) || accepted;
    if (!accepted) throw new HttpError(401, 'Incorrect API key provided.');
  }
}
