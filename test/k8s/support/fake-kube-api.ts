/**
 * A stand-in Kubernetes API server (node:http) speaking the real list and watch protocol for Pods
 * (`/api/v1/namespaces/{ns}/pods`) and InferencePools
 * (`/apis/inference.networking.k8s.io/v1/namespaces/{ns}/inferencepools`):
 *
 * - one resourceVersion counter for every write, as etcd's revision;
 * - list: `labelSelector`, `fieldSelector`, `limit` + `continue` paging, `metadata.resourceVersion`;
 * - watch (`watch=true|1`): newline-delimited `{type, object}` events from `resourceVersion`
 *   (history replay, then live), `ADDED`/`MODIFIED`/`DELETED` with the watch cache's selector
 *   semantics (an object that stops matching is `DELETED`, one that starts matching is `ADDED`),
 *   `BOOKMARK` when `allowWatchBookmarks=true`, `timeoutSeconds`, and for a compacted version the
 *   server's answer: HTTP 200 with one `ERROR` event (Status 410 `Expired`), then end of stream;
 * - bearer-token authentication (401 otherwise) and Status bodies for every error.
 *
 * Fault injection (for the reconnect paths): HTTP errors on the next requests, HTTP 410 on the
 * next watch, dropped or frozen watch connections, compaction, and `ERROR` 410 on open watches.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseFieldSelector, parseLabelSelector, type Labels } from './selectors.ts';

export type ResourceName = 'pods' | 'inferencepools';

interface ResourceDef {
  readonly apiPrefix: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly fields: readonly string[];
}

const RESOURCES: Record<ResourceName, ResourceDef> = {
  pods: {
    apiPrefix: '/api/v1',
    apiVersion: 'v1',
    kind: 'Pod',
    fields: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase', 'status.podIP'],
  },
  inferencepools: {
    apiPrefix: '/apis/inference.networking.k8s.io/v1',
    apiVersion: 'inference.networking.k8s.io/v1',
    kind: 'InferencePool',
    fields: ['metadata.name', 'metadata.namespace'],
  },
};

/** A stored object: any JSON with metadata. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    deletionTimestamp?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

interface HistoryEvent {
  readonly rv: number;
  readonly resource: ResourceName;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: KubeObject;
  readonly previous: KubeObject | undefined;
}

interface Watcher {
  readonly resource: ResourceName;
  readonly namespace: string;
  readonly matches: (object: KubeObject) => boolean;
  readonly bookmarks: boolean;
  readonly res: ServerResponse;
  readonly socket: Socket;
  frozen: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** A request the server received, for assertions. */
export interface RecordedRequest {
  readonly verb: 'list' | 'watch' | 'other';
  readonly resource: ResourceName | undefined;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

interface InjectedFailure {
  readonly verb: 'list' | 'watch';
  readonly resource: ResourceName | undefined;
  readonly status: number;
  readonly message: string;
  remaining: number;
}

const STATUS_REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export class FakeKubeApi {
  readonly token: string;
  readonly requests: RecordedRequest[] = [];
  #server: Server | undefined;
  #rv = 1000;
  /** Watches from a version below this get 410 Gone. */
  #compactedThrough = 0;
  readonly #objects: Record<ResourceName, Map<string, KubeObject>> = {
    pods: new Map(),
    inferencepools: new Map(),
  };
  #history: HistoryEvent[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #failures: InjectedFailure[] = [];
  #goneWatches = 0;
  #uid = 0;

  constructor(options: { token?: string } = {}) {
    this.token = options.token ?? 'stand-in-token';
  }

  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  get url(): string {
    const address = this.#server?.address() as AddressInfo | null;
    if (!address) throw new Error('FakeKubeApi not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  /** The current resourceVersion (the last write's). */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Open watch connections, optionally of one resource. */
  openWatches(resource?: ResourceName): number {
    return [...this.#watchers].filter((w) => resource === undefined || w.resource === resource).length;
  }

  /** Requests received, optionally filtered. */
  requestsOf(verb: 'list' | 'watch', resource?: ResourceName): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.verb === verb && (resource === undefined || r.resource === resource),
    );
  }

  async listen(): Promise<void> {
    this.#server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    for (const watcher of this.#watchers) this.#endWatch(watcher, true);
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  // --- writes -------------------------------------------------------------------------------

  /** Creates the object (ADDED), or replaces it (MODIFIED) when it exists. Returns the stored copy. */
  apply(resource: ResourceName, object: KubeObject): KubeObject {
    const def = RESOURCES[resource];
    const key = objectKey(object);
    const previous = this.#objects[resource].get(key);
    const stored = structuredClone(object);
    stored.apiVersion = def.apiVersion;
    stored.kind = def.kind;
    stored.metadata.namespace ??= 'default';
    stored.metadata.uid = previous?.metadata.uid ?? `uid-${++this.#uid}`;
    stored.metadata.resourceVersion = String(++this.#rv);
    this.#objects[resource].set(key, stored);
    this.#record({ rv: this.#rv, resource, type: previous ? 'MODIFIED' : 'ADDED', object: stored, previous });
    return structuredClone(stored);
  }

  /** Applies `mutate` to a copy of the stored object (MODIFIED). */
  patch(
    resource: ResourceName,
    namespace: string,
    name: string,
    mutate: (object: KubeObject) => void,
  ): KubeObject {
    const current = this.get(resource, namespace, name);
    if (current === undefined) throw new Error(`${resource} ${namespace}/${name} not found`);
    mutate(current);
    return this.apply(resource, current);
  }

  /** Deletes the object (DELETED). */
  remove(resource: ResourceName, namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const previous = this.#objects[resource].get(key);
    if (previous === undefined) throw new Error(`${resource} ${key} not found`);
    this.#objects[resource].delete(key);
    const object = structuredClone(previous);
    object.metadata.resourceVersion = String(++this.#rv);
    this.#record({ rv: this.#rv, resource, type: 'DELETED', object, previous });
  }

  get(resource: ResourceName, namespace: string, name: string): KubeObject | undefined {
    const object = this.#objects[resource].get(`${namespace}/${name}`);
    return object === undefined ? undefined : structuredClone(object);
  }

  // --- faults -------------------------------------------------------------------------------

  /** The next `count` matching requests are answered with `status` and a Status body. */
  failNext(
    verb: 'list' | 'watch',
    options: { status?: number; count?: number; resource?: ResourceName; message?: string } = {},
  ): void {
    const status = options.status ?? 500;
    this.#failures.push({
      verb,
      resource: options.resource,
      status,
      message: options.message ?? `injected ${status}`,
      remaining: options.count ?? 1,
    });
  }

  /** The next `count` watch requests are answered with HTTP 410 (as some proxies and old servers do). */
  goneOnNextWatch(count = 1): void {
    this.#goneWatches += count;
  }

  /** Forgets history: watches from any earlier version will get 410 Gone. */
  compact(): void {
    this.#compactedThrough = this.#rv;
    this.#history = [];
  }

  /** Sends `ERROR` (Status 410 Expired) on every open watch and ends it, as after a compaction. */
  expireWatches(): void {
    this.compact();
    for (const watcher of [...this.#watchers]) {
      this.#send(
        watcher,
        'ERROR',
        statusBody(410, `too old resource version: ${this.#rv - 1} (${this.#rv})`),
      );
      this.#endWatch(watcher, false);
    }
  }

  /** Ends every open watch in order, as the server does when `timeoutSeconds` expires. */
  endWatches(): void {
    for (const watcher of [...this.#watchers]) this.#endWatch(watcher, false);
  }

  /** Kills every open watch connection without an orderly end (a crashed API server or LB). */
  dropWatches(): void {
    for (const watcher of [...this.#watchers]) this.#endWatch(watcher, true);
  }

  /** Open watches stay connected but receive nothing more (a half-open TCP connection). */
  freezeWatches(): void {
    for (const watcher of this.#watchers) watcher.frozen = true;
  }

  /** Sends a BOOKMARK at the current version to watches that allow them. */
  bookmark(): void {
    for (const watcher of this.#watchers) {
      if (!watcher.bookmarks) continue;
      const def = RESOURCES[watcher.resource];
      this.#send(watcher, 'BOOKMARK', {
        kind: def.kind,
        apiVersion: def.apiVersion,
        metadata: { resourceVersion: String(this.#rv) },
      });
    }
  }

  // --- protocol -----------------------------------------------------------------------------

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const query = Object.fromEntries(url.searchParams);
    const route = matchRoute(url.pathname);
    const isWatch = query.watch === 'true' || query.watch === '1';
    const verb = route === undefined || req.method !== 'GET' ? 'other' : isWatch ? 'watch' : 'list';
    this.requests.push({ verb, resource: route?.resource, path: url.pathname, query });

    if (req.headers.authorization !== `Bearer ${this.token}`) return sendStatus(res, 401, 'Unauthorized');
    if (route === undefined) return sendStatus(res, 404, 'the server could not find the requested resource');
    if (verb === 'other') return sendStatus(res, 405, `method ${req.method} not supported by the stand-in`);

    const failure = this.#failures.find(
      (f) => f.verb === verb && (f.resource === undefined || f.resource === route.resource),
    );
    if (failure !== undefined) {
      if (--failure.remaining <= 0) this.#failures.splice(this.#failures.indexOf(failure), 1);
      return sendStatus(res, failure.status, failure.message);
    }

    let matches: (object: KubeObject) => boolean;
    try {
      const labels = parseLabelSelector(query.labelSelector ?? '');
      const fields = parseFieldSelector(query.fieldSelector ?? '', RESOURCES[route.resource].fields);
      matches = (object) =>
        object.metadata.namespace === route.namespace &&
        labels((object.metadata.labels ?? {}) as Labels) &&
        fields(object);
    } catch (error) {
      return sendStatus(res, 400, (error as Error).message);
    }

    if (verb === 'list') this.#list(route.resource, matches, query, res);
    else this.#watch(route, matches, query, req, res);
  }

  #list(
    resource: ResourceName,
    matches: (o: KubeObject) => boolean,
    query: Record<string, string>,
    res: ServerResponse,
  ): void {
    const def = RESOURCES[resource];
    const all = [...this.#objects[resource].values()]
      .filter(matches)
      .sort((a, b) => compare(objectKey(a), objectKey(b)));
    let start = 0;
    let snapshotRv = String(this.#rv);
    if (query.continue) {
      const token = JSON.parse(Buffer.from(query.continue, 'base64url').toString()) as {
        rv: string;
        start: number;
      };
      start = token.start;
      snapshotRv = token.rv;
    }
    const limit = query.limit ? Number(query.limit) : 0;
    const end = limit > 0 ? Math.min(all.length, start + limit) : all.length;
    const metadata: Record<string, string> = { resourceVersion: snapshotRv };
    if (end < all.length)
      metadata.continue = Buffer.from(JSON.stringify({ rv: snapshotRv, start: end })).toString('base64url');
    sendJson(res, 200, {
      kind: `${def.kind}List`,
      apiVersion: def.apiVersion,
      metadata,
      items: all.slice(start, end),
    });
  }

  #watch(
    route: { resource: ResourceName; namespace: string },
    matches: (o: KubeObject) => boolean,
    query: Record<string, string>,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    if (this.#goneWatches > 0) {
      this.#goneWatches--;
      return sendStatus(res, 410, 'injected 410 Gone');
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = {
      resource: route.resource,
      namespace: route.namespace,
      matches,
      bookmarks: query.allowWatchBookmarks === 'true',
      res,
      socket: req.socket,
      frozen: false,
      timer: undefined,
    };
    const from = query.resourceVersion;
    if (from === undefined || from === '' || from === '0') {
      // "Start at most recent": synthetic ADDED for the current state, then live events.
      for (const object of this.#objects[route.resource].values()) {
        if (matches(object)) this.#send(watcher, 'ADDED', object);
      }
    } else if (Number(from) < this.#compactedThrough) {
      this.#send(
        watcher,
        'ERROR',
        statusBody(410, `too old resource version: ${from} (${this.#compactedThrough})`),
      );
      res.end();
      return;
    } else {
      for (const event of this.#history) {
        if (event.rv > Number(from) && event.resource === route.resource) this.#deliver(watcher, event);
      }
    }
    this.#watchers.add(watcher);
    const timeout = Number(query.timeoutSeconds ?? 0);
    if (timeout > 0) watcher.timer = setTimeout(() => this.#endWatch(watcher, false), timeout * 1000);
    res.on('close', () => {
      clearTimeout(watcher.timer);
      this.#watchers.delete(watcher);
    });
  }

  #record(event: HistoryEvent): void {
    this.#history.push(event);
    for (const watcher of this.#watchers)
      if (watcher.resource === event.resource) this.#deliver(watcher, event);
  }

  /** The watch cache's filtering: what a watcher with this selector sees of one change. */
  #deliver(watcher: Watcher, event: HistoryEvent): void {
    const now = watcher.matches(event.object);
    const before = event.previous !== undefined && watcher.matches(event.previous);
    if (event.type === 'DELETED') {
      if (before) this.#send(watcher, 'DELETED', event.object);
    } else if (now && before) {
      this.#send(watcher, 'MODIFIED', event.object);
    } else if (now) {
      this.#send(watcher, 'ADDED', event.object);
    } else if (before) {
      const gone = structuredClone(event.previous as KubeObject);
      gone.metadata.resourceVersion = event.object.metadata.resourceVersion;
      this.#send(watcher, 'DELETED', gone);
    }
  }

  #send(watcher: Watcher, type: string, object: unknown): void {
    if (watcher.frozen || watcher.res.writableEnded) return;
    watcher.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  #endWatch(watcher: Watcher, abruptly: boolean): void {
    clearTimeout(watcher.timer);
    this.#watchers.delete(watcher);
    if (abruptly) watcher.socket.destroy();
    else watcher.res.end();
  }
}

function matchRoute(pathname: string): { resource: ResourceName; namespace: string } | undefined {
  for (const [resource, def] of Object.entries(RESOURCES) as Array<[ResourceName, ResourceDef]>) {
    const prefix = `${def.apiPrefix}/namespaces/`;
    if (!pathname.startsWith(prefix)) continue;
    const [namespace, plural, ...rest] = pathname.slice(prefix.length).split('/');
    if (plural === resource && rest.length === 0 && namespace)
      return { resource, namespace: decodeURIComponent(namespace) };
  }
  return undefined;
}

function statusBody(code: number, message: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: STATUS_REASONS[code] ?? 'Unknown',
    code,
  };
}

function sendStatus(res: ServerResponse, code: number, message: string): void {
  sendJson(res, code, statusBody(code, message));
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function objectKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? 'default'}/${object.metadata.name}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
