/**
 * Discovery from a fleet file (format: {@link ./fleet-file.ts}), reloaded when it changes.
 *
 * Change detection watches the file's directory, not the file: writers that replace the file by
 * renaming a temporary over it (as {@link writeFleetFile} and ConfigMap symlink swaps do) give it
 * a new inode, which a watch on the old inode would never report. A periodic `stat` comparison
 * backs the watcher up on filesystems where `fs.watch` is unreliable (NFS, some containers).
 *
 * A reload that fails (file missing, unparsable, schema errors) emits `refreshError` and keeps
 * the last good set; only the initial load is fatal.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { BaseDiscovery } from './base-discovery.ts';
import { readFleetFile } from './fleet-file.ts';

export {
  fleetFileSchema,
  fleetFileEndpointSchema,
  writeFleetFile,
  readFleetFile,
  parseFleetFile,
  toFleetFileEndpoint,
  FleetFileError,
  type FleetFile,
  type FleetFileEndpoint,
} from './fleet-file.ts';

export interface FileDiscoveryOptions {
  readonly path: string;
  /** Interval of the `stat` fallback check. Default 1000 ms; 0 disables it. */
  readonly pollIntervalMs?: number;
  /** Quiet period after a change notification before the file is read. Default 20 ms. */
  readonly debounceMs?: number;
  /** Use `fs.watch` (default true). Without it only the `stat` fallback notices changes. */
  readonly watch?: boolean;
}

export class FileDiscovery extends BaseDiscovery {
  readonly kind = 'file';
  readonly path: string;
  readonly #pollIntervalMs: number;
  readonly #debounceMs: number;
  readonly #useWatch: boolean;
  #watcher: FSWatcher | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  /** Stat signature of the file as of the last load attempt. */
  #signature = '';
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #closed = false;

  constructor(options: FileDiscoveryOptions) {
    super();
    this.path = resolve(options.path);
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#debounceMs = options.debounceMs ?? 20;
    this.#useWatch = options.watch ?? true;
  }

  /** Loads the file, then starts watching. @throws {FleetFileError} if the first load fails. */
  async start(): Promise<void> {
    this.#signature = await this.#statSignature();
    this.publish(await readFleetFile(this.path));
    if (this.#closed) return;
    if (this.#useWatch) this.#startWatcher();
    if (this.#pollIntervalMs > 0) {
      this.#pollTimer = setInterval(() => void this.#poll(), this.#pollIntervalMs);
      this.#pollTimer.unref();
    }
  }

  /**
   * Re-reads the file now. Concurrent calls coalesce: a call made while a read is in progress
   * schedules exactly one more read after it.
   */
  reload(): Promise<void> {
    if (this.#reloading !== undefined) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#reloadAgain = false;
        await this.#loadOnce();
      } while (this.#reloadAgain && !this.#closed);
    })().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#pollTimer);
    clearTimeout(this.#debounceTimer);
    await this.#reloading;
  }

  async #loadOnce(): Promise<void> {
    if (this.#closed) return;
    this.#signature = await this.#statSignature();
    try {
      const endpoints = await readFleetFile(this.path);
      if (!this.#closed) this.publish(endpoints);
    } catch (error) {
      if (!this.#closed) this.reportRefreshError(error as Error);
    }
  }

  #startWatcher(): void {
    const name = basename(this.path);
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name) this.#scheduleReload();
      });
    } catch (error) {
      this.reportRefreshError(
        new Error(`cannot watch ${dirname(this.path)}, polling only: ${(error as Error).message}`),
      );
      return;
    }
    this.#watcher.on('error', (error) => {
      this.#watcher?.close();
      this.#watcher = undefined;
      this.reportRefreshError(
        new Error(`watching ${dirname(this.path)} failed, polling only: ${error.message}`),
      );
    });
  }

  #scheduleReload(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounceTimer);
    this.#debounceTimer = setTimeout(() => void this.reload(), this.#debounceMs);
    this.#debounceTimer.unref();
  }

  async #poll(): Promise<void> {
    if (this.#closed || this.#reloading !== undefined) return;
    if ((await this.#statSignature()) !== this.#signature) await this.reload();
  }

  async #statSignature(): Promise<string> {
    try {
      const info = await stat(this.path, { bigint: true });
      return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
    } catch (error) {
      return `missing:${(error as NodeJS.ErrnoException).code ?? 'unknown'}`;
    }
  }
}
