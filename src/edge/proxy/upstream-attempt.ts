/**
 * One try of a request against one endpoint: an undici dispatch handler that streams the response
 * into a ResponseRelay, enforces the first-byte and idle timeouts, cancels on client abort, and
 * reports whether the proxy should move on to the next endpoint.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { ClientExchange } from '../client-exchange.ts';
import type { UpstreamConfig } from '../edge-config.ts';
import type { EdgeMetrics, UpstreamErrorKind } from '../edge-metrics.ts';
import type { UpstreamEndpoint } from '../routing-service.ts';
import { ResponseRelay, type RelayOptions } from './response-relay.ts';
import {
  ClientGoneError,
  UpstreamFailure,
  clientErrorFor,
  failureKind,
  isRetryableKind,
} from './upstream-failure.ts';
import { UsageTail, type UsageCounts } from './usage-tail.ts';

/** Status recorded when the client went away before the response ended (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

export type AttemptResult =
  | {
      /** Nothing reached the client; the next endpoint may be tried. */
      readonly kind: 'retry';
      readonly reason: UpstreamErrorKind;
      readonly detail: string;
    }
  | {
      /** The exchange is answered (relayed, failed with an error, or abandoned by the client). */
      readonly kind: 'done';
      readonly ok: boolean;
      readonly status: number;
      readonly usage: UsageCounts;
      /** performance.now() of the first response body byte, if one arrived. */
      readonly firstByteAt: number | undefined;
      readonly dispatchedAt: number;
      readonly streaming: boolean;
    };

export interface AttemptOptions {
  /** Whether a retryable failure may return `retry` (an endpoint and a retry are left). */
  readonly canRetry: boolean;
  readonly config: UpstreamConfig;
  readonly relay: Omit<RelayOptions, 'onFlowChange'>;
  readonly metrics: EdgeMetrics;
  /** Called once at the first response body byte of a success response (streamed or not). */
  readonly onFirstByte?: (streaming: boolean) => void;
}

type TimerKind = 'first_byte_timeout' | 'idle_timeout';

export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  readonly result: Promise<AttemptResult>;
  private resolve!: (result: AttemptResult) => void;
  private controller: Dispatcher.DispatchController | null = null;
  private cancelReason: Error | null = null;
  private relay: ResponseRelay | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerKind: TimerKind = 'first_byte_timeout';
  private settled = false;
  private responseStarted = false;
  private status = 0;
  private dispatchedAt = 0;
  private firstByteAt: number | undefined;
  private readonly tail = new UsageTail();

  constructor(
    private readonly exchange: ClientExchange,
    private readonly endpoint: UpstreamEndpoint,
    private readonly options: AttemptOptions,
  ) {
    this.result = new Promise((resolve) => (this.resolve = resolve));
  }

  /** Send the request. The result settles exactly once. */
  start(dispatcher: Dispatcher, request: Dispatcher.DispatchOptions): this {
    this.dispatchedAt = performance.now();
    this.exchange.onAbort(() => this.cancel(new ClientGoneError()));
    this.arm('first_byte_timeout', this.options.config.firstByteTimeoutMs);
    try {
      dispatcher.dispatch(request, this);
    } catch (error) {
      this.fail(error as Error);
    }
    return this;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cancelReason !== null) controller.abort(this.cancelReason);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    if (this.settled) return;
    this.responseStarted = true;
    if (this.options.canRetry && this.options.config.retryOnStatus.includes(statusCode)) {
      this.options.metrics.upstreamErrors.inc({ kind: 'status' });
      this.settle({ kind: 'retry', reason: 'status', detail: `status ${statusCode}` });
      controller.abort(new UpstreamFailure('status', `retrying after status ${statusCode}`));
      return;
    }
    this.status = statusCode;
    this.relay = new ResponseRelay(
      this.exchange,
      controller,
      { ...this.options.relay, onFlowChange: this.onFlowChange },
      statusCode,
      statusMessage,
      headers,
    );
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled || this.relay === null) return;
    if (this.firstByteAt === undefined) {
      this.firstByteAt = performance.now();
      this.arm('idle_timeout', this.options.config.idleTimeoutMs);
      if (this.status < 400) this.options.onFirstByte?.(this.relay.isEventStream);
    } else {
      this.timer?.refresh();
    }
    this.tail.push(chunk);
    try {
      this.relay.push(chunk);
    } catch (error) {
      this.cancel(error as Error);
    }
  }

  onResponseEnd(): void {
    if (this.settled || this.relay === null) return;
    this.relay.finish();
    this.settle({
      kind: 'done',
      ok: this.status < 400,
      status: this.status,
      usage: this.tail.usage(),
      firstByteAt: this.firstByteAt,
      dispatchedAt: this.dispatchedAt,
      streaming: this.relay.isEventStream,
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(this.cancelReason ?? error);
  }

  /** Abort the upstream request; the failure path answers the client as appropriate. */
  cancel(reason: Error): void {
    if (this.settled) return;
    this.cancelReason ??= reason;
    if (this.controller !== null && !this.controller.aborted) this.controller.abort(reason);
    // Before onRequestStart (still connecting) undici has nothing to abort yet: settle now, and
    // onRequestStart aborts the request when it shows up.
    this.fail(reason);
  }

  private fail(error: Error): void {
    if (this.settled) return;
    const done = (status: number): AttemptResult => ({
      kind: 'done',
      ok: false,
      status,
      usage: {},
      firstByteAt: this.firstByteAt,
      dispatchedAt: this.dispatchedAt,
      streaming: this.relay?.isEventStream ?? false,
    });
    if (error instanceof ClientGoneError) {
      this.relay?.releaseAll();
      this.settle(done(CLIENT_CLOSED_STATUS));
      return;
    }
    const kind = failureKind(error);
    this.options.metrics.upstreamErrors.inc({ kind });
    if (kind === 'client_too_slow') {
      this.relay?.releaseAll();
      this.exchange.close();
      this.settle(done(this.status));
      return;
    }
    if (!this.responseStarted && this.options.canRetry && isRetryableKind(kind)) {
      this.settle({ kind: 'retry', reason: kind, detail: error.message });
      return;
    }
    const httpError = clientErrorFor(kind, this.endpoint.id, error);
    if (this.relay?.fail(httpError.status, httpError.message)) {
      this.settle(done(this.status));
      return;
    }
    this.exchange.respondError(httpError, this.options.relay.addHeaders);
    this.settle(done(httpError.status));
  }

  private settle(result: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.exchange.onAbort(null);
    this.resolve(result);
  }

  private arm(kind: TimerKind, ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerKind = kind;
    this.timer = setTimeout(this.onTimeout, ms);
  }

  private readonly onTimeout = (): void => {
    const ms =
      this.timerKind === 'first_byte_timeout'
        ? this.options.config.firstByteTimeoutMs
        : this.options.config.idleTimeoutMs;
    const what = this.timerKind === 'first_byte_timeout' ? 'no response byte' : 'no data';
    this.cancel(new UpstreamFailure(this.timerKind, `${what} for ${ms} ms`));
  };

  /** No idle accounting while we hold the upstream paused for a slow client. */
  private readonly onFlowChange = (paused: boolean): void => {
    if (this.settled) return;
    if (paused) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
    } else {
      this.arm('idle_timeout', this.options.config.idleTimeoutMs);
    }
  };
}
