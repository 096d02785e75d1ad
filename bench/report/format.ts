/** Number formatting for the Markdown tables ('–' for missing values). */

const DASH = '–';

/** Seconds with precision that suits the magnitude: 0.054, 2.31, 31.5. */
export function seconds(v: number): string {
  if (!Number.isFinite(v)) return DASH;
  if (Math.abs(v) < 1) return v.toFixed(3);
  if (Math.abs(v) < 10) return v.toFixed(2);
  return v.toFixed(1);
}

export function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : v === Number.POSITIVE_INFINITY ? '∞' : DASH;
}

export function percent(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : DASH;
}

/** 2 decimals, or 2 significant digits below 0.1 (0.0028×: a 357× improvement must not read as 0.00×). */
export function ratio(v: number): string {
  if (!Number.isFinite(v)) return DASH;
  return `${v !== 0 && Math.abs(v) < 0.1 ? v.toPrecision(2) : v.toFixed(2)}×`;
}

export function integer(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : DASH;
}
