/**
 * A list-then-watch mirror of one Kubernetes collection (client-go's "reflector"), built on
 * `@kubernetes/client-node`'s {@link Watch}.
 *
 * Protocol, as the API server defines it:
 * 1. List the collection (paged); the list's `metadata.resourceVersion` is the snapshot version.
 * 2. Watch from that version with `allowWatchBookmarks`; every event, bookmarks included, moves
 *    the version forward.
 * 3. When a watch ends normally (server-side `timeoutSeconds`), watch again from the last
 *    version: nothing is missed and nothing is re-listed.
 * 4. When the version has been compacted away the server answers `410 Gone` (usually as an
 *    `ERROR` event carrying a `Status` with code 410, sometimes as the HTTP status): re-list.
 * 5. Any other failure: report it, wait with exponential backoff, resume from the last version.
 *
 * client-node's own `ListWatch` is not used because it stops for good on the first error, cannot
 * change its selector, and does not page or detect stalled connections.
 *
 * The mirrored objects survive failures: a re-list replaces them in one step, so consumers never
 * see a transient empty collection.
 */
import type { Watch } from '@kubernetes/client-node';
import { Backoff, type BackoffOptions } from './kubernetes-backoff.ts';

/** The part of an object the reflector reads. */
export interface ObjectWithMeta {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  };
}

/** One page of a list, normalised by the caller from whichever client call produced it. */
export interface ListPage<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
  /** `metadata.continue` of the page; absent on the last page. */
  readonly continueToken?: string;
}

/** Lists one page; `continueToken` is absent for the first page. */
export type ListPageFn<T> = (request: { limit: number; continueToken?: string }) => Promise<ListPage<T>>;

export interface ReflectorOptions<T extends ObjectWithMeta> {
  /** What is mirrored, for error messages: `pods in ns "x" matching "app=vllm"`. */
  readonly description: string;
  readonly list: ListPageFn<T>;
  readonly watch: Watch;
  /** Collection path, e.g. `/api/v1/namespaces/x/pods`. */
  readonly watchPath: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** List page size. Default 500 (client-go's). */
  readonly pageSize?: number;
  /**
   * Server-side watch timeout. Default 300 s, stretched by up to 2x at random so replicas do not
   * reconnect together (as client-go does).
   */
  readonly watchTimeoutSeconds?: number;
  /**
   * A watch that delivers nothing (no event, no bookmark, no end) for this long is presumed dead
   * (half-open TCP) and replaced. Default: the watch timeout plus 30 s.
   */
  readonly stallTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
  /**
   * Called with every mirrored object after the initial list, after each re-list, and after each
   * burst of watch events (coalesced to one call per event-loop turn).
   */
  readonly onChange: (objects: readonly T[]) => void;
  /** A list or watch failed; the reflector retries on its own. */
  readonly onError: (error: Error) => void;
}

type WatchOutcome =
  | { readonly kind: 'closed'; readonly events: number }
  | { readonly kind: 'expired'; readonly events: number }
  | { readonly kind: 'error'; readonly events: number; readonly error: Error }
  | { readonly kind: 'stopped'; readonly events: number };

/** A watch that ends sooner than this without delivering anything counts as a failure for backoff. */
const MIN_HEALTHY_WATCH_MS = 1000;

export class Reflector<T extends ObjectWithMeta> {
  readonly #options: ReflectorOptions<T>;
  readonly #backoff: Backoff;
  readonly #objects = new Map<string, T>();
  /** Version to resume watching from; undefined means a (re-)list is needed. */
  #resourceVersion: string | undefined;
  #synced = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #cancelWait: (() => void) | undefined;
  #notifyHandle: NodeJS.Immediate | undefined;

  constructor(options: ReflectorOptions<T>) {
    this.#options = options;
    this.#backoff = new Backoff(options.backoff);
  }

  /** True once the first list has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The version the next watch resumes from (undefined before the first list or after a 410). */
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  /** The mirrored objects. */
  objects(): T[] {
    return [...this.#objects.values()];
  }

  /** Starts listing and watching in the background; progress is reported through the callbacks. */
  start(): void {
    if (this.#loop !== undefined || this.#stopped) return;
    this.#loop = this.#run();
  }

  /**
   * Stops for good: the open watch is aborted, no further request is made, and no callback fires
   * after this resolves. A list request still in flight is abandoned (its answer is ignored).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#notifyHandle !== undefined) clearImmediate(this.#notifyHandle);
    this.#notifyHandle = undefined;
    this.#cancelWait?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      if (this.#resourceVersion === undefined) {
        const listed = await this.#untilStopped(this.#listAll()).catch((error: unknown) => {
          this.#reportError(describeApiError(`listing ${this.#options.description}`, error));
          return undefined;
        });
        if (this.#stopped) return;
        if (listed === undefined) {
          await this.#sleep(this.#backoff.next());
          continue;
        }
        this.#replaceAll(listed.items);
        this.#resourceVersion = listed.resourceVersion;
        this.#synced = true;
        this.#backoff.reset();
        this.#notifyNow();
      }
      const startedAt = Date.now();
      const outcome = await this.#watchOnce(this.#resourceVersion as string);
      if (outcome.kind === 'stopped' || this.#stopped) return;
      if (outcome.kind === 'expired') {
        // The server no longer has history back to our version: only a fresh list can resync.
        this.#resourceVersion = undefined;
      } else if (outcome.kind === 'error') {
        this.#reportError(outcome.error);
        await this.#sleep(this.#backoff.next());
      } else if (outcome.events === 0 && Date.now() - startedAt < MIN_HEALTHY_WATCH_MS) {
        // A server (or proxy) that closes watches at once would otherwise make us spin.
        await this.#sleep(this.#backoff.next());
      }
    }
  }

  async #listAll(): Promise<{ items: T[]; resourceVersion: string }> {
    const limit = this.#options.pageSize ?? 500;
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.#options.list(
        continueToken === undefined ? { limit } : { limit, continueToken },
      );
      items.push(...page.items);
      // Every page of a paged list is served from the first page's snapshot.
      if (resourceVersion === '') resourceVersion = page.resourceVersion;
      continueToken = page.continueToken === '' ? undefined : page.continueToken;
    } while (continueToken !== undefined && !this.#stopped);
    return { items, resourceVersion };
  }

  #watchOnce(resourceVersion: string): Promise<WatchOutcome> {
    const timeoutSeconds = Math.round((this.#options.watchTimeoutSeconds ?? 300) * (1 + Math.random()));
    const stallMs = this.#options.stallTimeoutMs ?? (timeoutSeconds + 30) * 1000;
    return new Promise<WatchOutcome>((resolve) => {
      let settled = false;
      let events = 0;
      let controller: AbortController | undefined;
      let stallTimer: NodeJS.Timeout | undefined;
      const finish = (
        outcome: { kind: 'closed' | 'expired' | 'stopped' } | { kind: 'error'; error: Error },
      ) => {
        if (settled) return;
        settled = true;
        clearTimeout(stallTimer);
        if (this.#cancelWait === cancel) this.#cancelWait = undefined;
        controller?.abort();
        resolve({ ...outcome, events });
      };
      const armStallTimer = () => {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => {
          finish({
            kind: 'error',
            error: new Error(
              `watching ${this.#options.description}: no data for ${stallMs} ms, reconnecting`,
            ),
          });
        }, stallMs);
        stallTimer.unref();
      };
      const cancel = () => finish({ kind: 'stopped' });
      this.#cancelWait = cancel;
      armStallTimer();

      const onEvent = (phase: string, object: unknown) => {
        if (settled) return;
        armStallTimer();
        if (phase === 'ERROR') {
          const status = (object ?? {}) as { code?: number; reason?: string; message?: string };
          if (status.code === 410) {
            finish({ kind: 'expired' });
          } else {
            const detail = status.message ?? status.reason ?? 'unknown error';
            finish({
              kind: 'error',
              error: new Error(
                `watching ${this.#options.description}: ${status.code ?? ''} ${detail}`.trim(),
              ),
            });
          }
          return;
        }
        const item = object as T;
        if (phase === 'ADDED' || phase === 'MODIFIED') {
          this.#objects.set(objectKey(item), item);
          this.#scheduleNotify();
        } else if (phase === 'DELETED') {
          if (this.#objects.delete(objectKey(item))) this.#scheduleNotify();
        } else if (phase !== 'BOOKMARK') {
          return;
        }
        events++;
        if (events === 1) this.#backoff.reset();
        const version = item?.metadata?.resourceVersion;
        if (version !== undefined && version !== '') this.#resourceVersion = version;
      };
      const onDone = (error: unknown) => {
        if (settled) return;
        if (error === null || error === undefined) finish({ kind: 'closed' });
        else if (isGone(error)) finish({ kind: 'expired' });
        else
          finish({ kind: 'error', error: describeApiError(`watching ${this.#options.description}`, error) });
      };

      const query: Record<string, string | number | boolean | undefined> = {
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: this.#options.labelSelector,
        fieldSelector: this.#options.fieldSelector,
      };
      this.#options.watch.watch(this.#options.watchPath, query, onEvent, onDone).then(
        (abort) => {
          controller = abort;
          // Stopped (or timed out) while the request was being sent: close the stream now.
          if (settled) abort.abort();
        },
        (error: unknown) =>
          finish({ kind: 'error', error: describeApiError(`watching ${this.#options.description}`, error) }),
      );
    });
  }

  #replaceAll(items: readonly T[]): void {
    this.#objects.clear();
    for (const item of items) this.#objects.set(objectKey(item), item);
  }

  #scheduleNotify(): void {
    if (this.#notifyHandle !== undefined || this.#stopped) return;
    this.#notifyHandle = setImmediate(() => {
      this.#notifyHandle = undefined;
      if (!this.#stopped) this.#options.onChange(this.objects());
    });
  }

  #notifyNow(): void {
    if (this.#notifyHandle !== undefined) clearImmediate(this.#notifyHandle);
    this.#notifyHandle = undefined;
    this.#options.onChange(this.objects());
  }

  #reportError(error: Error): void {
    if (!this.#stopped) this.#options.onError(error);
  }

  /** Waits `ms`, or less if stopped meanwhile. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#cancelWait === done) this.#cancelWait = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#cancelWait = done;
    });
  }

  /** Resolves with `promise`'s value, or with undefined as soon as the reflector is stopped. */
  #untilStopped<V>(promise: Promise<V>): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      const cancel = () => resolve(undefined);
      this.#cancelWait = cancel;
      promise.then(resolve, reject).finally(() => {
        // The loop may already have moved on and installed the next wait's canceller.
        if (this.#cancelWait === cancel) this.#cancelWait = undefined;
      });
    });
  }
}

function objectKey(object: ObjectWithMeta): string {
  return `${object?.metadata?.namespace ?? ''}/${object?.metadata?.name ?? ''}`;
}

/** True for a `410 Gone` from client-node (watch `statusCode`, API `code`). */
function isGone(error: unknown): boolean {
  const candidate = error as { statusCode?: number; code?: number } | null;
  return candidate?.statusCode === 410 || candidate?.code === 410;
}

/**
 * An Error whose message says what failed and what the API server said, e.g.
 * `listing pods in ns "x": HTTP 403: pods is forbidden: User "system:serviceaccount:x:kvedge" cannot list…`.
 */
export function describeApiError(action: string, error: unknown): Error {
  const candidate = error as {
    code?: unknown;
    statusCode?: unknown;
    body?: unknown;
    message?: unknown;
  } | null;
  const status =
    typeof candidate?.code === 'number'
      ? candidate.code
      : typeof candidate?.statusCode === 'number'
        ? candidate.statusCode
        : undefined;
  let detail = typeof candidate?.message === 'string' ? candidate.message : String(error);
  const apiMessage = statusMessage(candidate?.body);
  if (apiMessage !== undefined) detail = apiMessage;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  if (status === undefined && typeof cause?.code === 'string' && !detail.includes(cause.code))
    detail += ` (${cause.code})`;
  return new Error(`${action}: ${status === undefined ? '' : `HTTP ${status}: `}${detail}`, { cause: error });
}

/** `message` of a Kubernetes `Status` body, given as an object or as JSON text. */
function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() === '' ? undefined : body.trim().slice(0, 500);
    }
  }
  const message = (parsed as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message !== '' ? message : undefined;
}
