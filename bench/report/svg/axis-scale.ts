/** Axis scales and tick placement for the hand-written SVG charts. */

export type ScaleKind = 'linear' | 'log';

export interface Scale {
  readonly kind: ScaleKind;
  readonly min: number;
  readonly max: number;
  /** Maps a data value to [0, 1] along the axis. */
  fraction(value: number): number;
  readonly ticks: readonly number[];
}

/** 1, 2 or 5 × 10^k steps giving about `target` ticks over [min, max]. */
export function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

export function linearScale(min: number, max: number, target = 5): Scale {
  if (!(max > min)) max = min + 1;
  const step = niceStep(max - min, target);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { kind: 'linear', min: lo, max: hi, fraction: (v) => (v - lo) / (hi - lo), ticks };
}

/** Decade-aligned log scale; adds 2× and 5× ticks when it spans few decades. */
export function logScale(min: number, max: number): Scale {
  const safeMin = Math.max(min, 1e-9);
  const lo = Math.floor(Math.log10(safeMin));
  let hi = Math.ceil(Math.log10(Math.max(max, safeMin)));
  if (hi === lo) hi = lo + 1;
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) {
    ticks.push(10 ** e);
    if (hi - lo <= 3 && e < hi) ticks.push(2 * 10 ** e, 5 * 10 ** e);
  }
  ticks.sort((a, b) => a - b);
  return {
    kind: 'log',
    min: 10 ** lo,
    max: 10 ** hi,
    fraction: (v) => (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo),
    ticks,
  };
}

/** Compact tick label: 0.05, 2, 1.5k, 20k, 1e-4. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (abs >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`;
  if (abs < 1e-3) return value.toExponential(0);
  return String(Number(value.toPrecision(3)));
}
