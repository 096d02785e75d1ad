/**
 * The fleet's control plane on the owner thread: follows a {@link Discovery} source, runs one
 * {@link EndpointScraper} per endpoint, and publishes everything into a
 * {@link SharedFleetState}, from which any thread takes per-request {@link FleetView}s.
 *
 * Events (`added`, `removed`, `updated`, `health`) let other control-plane parts follow the
 * fleet: KV-event ingestion subscribes to endpoints' arrival and removal.
 */
import { EventEmitter } from 'node:events';
import type { Dispatcher } from 'undici';
import type { Discovery } from './discovery/discovery.ts';
import { sameEndpointInfo } from './discovery/endpoint-info.ts';
import { EngineMetricsMapper } from './engine-metrics.ts';
import { routerClock, type RouterClock } from './router-clock.ts';
import {
  createScrapeAgent,
  EndpointScraper,
  type EndpointScrapeState,
  type ScraperOptions,
} from './scraper.ts';
import { DEFAULT_FLEET_CAPACITY, SharedFleetState } from './shared-state.ts';
import type { EndpointInfo, FleetView } from './types.ts';

export interface EndpointRegistryEvents {
  /** An endpoint joined the fleet (it has a slot; it turns healthy on its first scrape). */
  added: [info: EndpointInfo];
  /** An endpoint left the fleet; its slot is freed and its in-flight refs are stale. */
  removed: [info: EndpointInfo];
  /** An endpoint's description changed (labels, declared models, KV-event endpoints). */
  updated: [info: EndpointInfo, previous: EndpointInfo];
  /** An endpoint turned healthy or unhealthy. */
  health: [info: EndpointInfo, healthy: boolean, state: EndpointScrapeState];
  /** Discovery could not refresh, or an endpoint could not be admitted (table full). */
  problem: [error: Error];
}

export interface EndpointRegistryOptions {
  readonly discovery: Discovery;
  /** Scraping options; the registry supplies a shared keep-alive agent unless one is given. */
  readonly scraper?: ScraperOptions;
  /** Shared table capacity, when the registry creates the table. Default 1024. */
  readonly capacity?: number;
  /** An existing owner-side table to publish into. */
  readonly sharedState?: SharedFleetState;
  /** How long `start()` waits for the first scrape of the initial endpoints. Default 2000 ms. */
  readonly initialScrapeTimeoutMs?: number;
  readonly clock?: RouterClock;
}

interface Member {
  info: EndpointInfo;
  scraper: EndpointScraper;
}

export class EndpointRegistry extends EventEmitter<EndpointRegistryEvents> {
  /** The shared table; hand `shared.buffer` to acceptor threads. */
  readonly shared: SharedFleetState;
  readonly #discovery: Discovery;
  readonly #scraperOptions: ScraperOptions;
  readonly #ownsDispatcher: boolean;
  readonly #dispatcher: Dispatcher;
  readonly #ownsShared: boolean;
  readonly #initialScrapeTimeoutMs: number;
  readonly #members = new Map<string, Member>();
  readonly #onChange = (endpoints: readonly EndpointInfo[]): void => this.#reconcile(endpoints);
  readonly #onRefreshError = (error: Error): void => {
    this.emit('problem', error);
  };
  #started = false;
  #closed = false;

  constructor(options: EndpointRegistryOptions) {
    super();
    const clock = options.clock ?? routerClock;
    this.#discovery = options.discovery;
    this.#ownsShared = options.sharedState === undefined;
    this.shared =
      options.sharedState ?? SharedFleetState.create(options.capacity ?? DEFAULT_FLEET_CAPACITY, { clock });
    if (!this.shared.isOwner)
      throw new Error('EndpointRegistry needs the owner side of the shared fleet table');
    this.#ownsDispatcher = options.scraper?.dispatcher === undefined;
    this.#dispatcher = options.scraper?.dispatcher ?? createScrapeAgent();
    this.#scraperOptions = {
      clock,
      ...options.scraper,
      dispatcher: this.#dispatcher,
      mapper: options.scraper?.mapper ?? new EngineMetricsMapper(),
    };
    this.#initialScrapeTimeoutMs = options.initialScrapeTimeoutMs ?? 2000;
  }

  /**
   * Starts discovery and scraping. Resolves when the initial endpoints have each been scraped
   * once (or `initialScrapeTimeoutMs` passed), so the first requests see real health and load.
   *
   * @throws {Error} when discovery cannot produce its first endpoint set.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('EndpointRegistry already started');
    this.#started = true;
    this.#discovery.on('change', this.#onChange);
    this.#discovery.on('refreshError', this.#onRefreshError);
    await this.#discovery.start();
    this.#reconcile(this.#discovery.current());
    const firstScrapes = [...this.#members.values()].map((member) => member.scraper.scrapeMetrics());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(firstScrapes),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#initialScrapeTimeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  /** Stops discovery and every scraper; the shared table is closed if the registry created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#discovery.off('change', this.#onChange);
    this.#discovery.off('refreshError', this.#onRefreshError);
    await this.#discovery.close();
    await Promise.allSettled([...this.#members.values()].map((member) => member.scraper.stop()));
    this.#members.clear();
    if (this.#ownsDispatcher) await this.#dispatcher.close();
    if (this.#ownsShared) this.shared.close();
  }

  /** A view of the fleet for one routing decision (delegates to the shared table). */
  snapshot(nowMs?: number): FleetView {
    return this.shared.snapshot(nowMs);
  }

  /** The current endpoint descriptions. */
  endpoints(): EndpointInfo[] {
    return [...this.#members.values()].map((member) => member.info);
  }

  /** Scrape state of one endpoint (health details, last errors), for diagnostics. */
  scrapeState(id: string): EndpointScrapeState | undefined {
    return this.#members.get(id)?.scraper.state;
  }

  #reconcile(endpoints: readonly EndpointInfo[]): void {
    if (this.#closed) return;
    const next = new Map(endpoints.map((info) => [info.id, info]));
    for (const [id, member] of this.#members) {
      if (!next.has(id)) this.#remove(member);
    }
    for (const info of next.values()) {
      const member = this.#members.get(info.id);
      if (member === undefined) this.#add(info);
      else if (!sameEndpointInfo(member.info, info)) this.#update(member, info);
    }
  }

  #add(info: EndpointInfo): void {
    try {
      this.shared.addEndpoint(info);
    } catch (error) {
      this.emit(
        'problem',
        new Error(`cannot add endpoint ${info.id}: ${(error as Error).message}`, { cause: error }),
      );
      return;
    }
    const member: Member = { info, scraper: this.#createScraper(info) };
    this.#members.set(info.id, member);
    this.emit('added', info);
    member.scraper.start();
  }

  #remove(member: Member): void {
    this.#members.delete(member.info.id);
    void member.scraper.stop();
    this.shared.removeEndpoint(member.info.id);
    this.emit('removed', member.info);
  }

  #update(member: Member, info: EndpointInfo): void {
    const previous = member.info;
    void member.scraper.stop();
    member.info = info;
    this.shared.updateEndpointInfo(info);
    // Labels can change the engine type, so the scraper is rebuilt, continuing from the old
    // one's state.
    member.scraper = this.#createScraper(info, member.scraper.state);
    this.emit('updated', info, previous);
    member.scraper.start();
  }

  #createScraper(info: EndpointInfo, initial?: EndpointScrapeState): EndpointScraper {
    const scraper: EndpointScraper = new EndpointScraper(
      info,
      this.#scraperOptions,
      (state, changes) => {
        const member = this.#members.get(info.id);
        if (member === undefined || member.scraper !== scraper) return;
        if (changes.metrics || changes.health)
          this.shared.publishStatus(info.id, state.healthy, state.metrics);
        if (changes.models) this.shared.setServedModels(info.id, state.servedModels);
        if (changes.health) this.emit('health', info, state.healthy, state);
      },
      initial,
    );
    return scraper;
  }
}
