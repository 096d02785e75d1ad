/**
 * Measures plugin invocations when the caller supplied a timer. Keeping the clock in the context
 * (rather than calling `performance.now()` here) keeps the core free of ambient I/O: a simulator
 * can pass a fake timer or none at all.
 */
import type { ExtensionPoint, Plugin, PluginTiming, ScheduleContext } from './types.ts';

export class PluginStopwatch {
  readonly timings: PluginTiming[] = [];
  private readonly timer: (() => number) | undefined;
  private readonly sink: ((timing: PluginTiming) => void) | undefined;

  constructor(ctx: ScheduleContext) {
    this.timer = ctx.timer;
    this.sink = ctx.onPluginTiming;
  }

  /** Current timer reading, or 0 without a timer. */
  now(): number {
    return this.timer ? this.timer() : 0;
  }

  get enabled(): boolean {
    return this.timer !== undefined;
  }

  /** Runs `fn`, recording its duration against `plugin` when timing is enabled. */
  measure<T>(extensionPoint: ExtensionPoint, plugin: Plugin, profile: string | undefined, fn: () => T): T {
    const timer = this.timer;
    if (!timer) return fn();
    const start = timer();
    try {
      return fn();
    } finally {
      const timing: PluginTiming = {
        extensionPoint,
        pluginType: plugin.type,
        pluginName: plugin.name,
        ...(profile === undefined ? {} : { profile }),
        durationMs: timer() - start,
      };
      this.timings.push(timing);
      this.sink?.(timing);
    }
  }
}
