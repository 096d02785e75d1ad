/**
 * A small SVG line chart (no chart library): axes with linear or log scales, grid lines, a legend,
 * one polyline per series (optionally as steps, for CDFs) with point markers.
 */
import { formatTick, linearScale, logScale, type Scale, type ScaleKind } from './axis-scale.ts';

export interface Series {
  readonly name: string;
  readonly color: string;
  /** [x, y] pairs in data units; non-finite points are skipped. */
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

export interface AxisSpec {
  readonly label: string;
  readonly scale: ScaleKind;
  /** Fixed bounds; default: from the data. */
  readonly min?: number;
  readonly max?: number;
}

export interface LineChartSpec {
  readonly title: string;
  readonly subtitle?: string;
  readonly x: AxisSpec;
  readonly y: AxisSpec;
  readonly series: readonly Series[];
  /** Draw horizontal-then-vertical steps (CDF) instead of straight segments. */
  readonly steps?: boolean;
  readonly markers?: boolean;
}

/** Eight colours that stay distinct for the usual policy count. */
export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 70, right: 190, top: 56, bottom: 56 };

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function scaleFor(axis: AxisSpec, values: readonly number[]): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (axis.scale === 'linear' || v > 0));
  const min = axis.min ?? (finite.length > 0 ? Math.min(...finite) : 0);
  const max = axis.max ?? (finite.length > 0 ? Math.max(...finite) : 1);
  return axis.scale === 'log' ? logScale(min, max) : linearScale(min, max);
}

export function lineChart(spec: LineChartSpec): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const all = spec.series.flatMap((s) => s.points);
  const xs = scaleFor(
    spec.x,
    all.map((p) => p[0]),
  );
  const ys = scaleFor(
    spec.y,
    all.map((p) => p[1]),
  );
  const px = (v: number): number => MARGIN.left + xs.fraction(v) * plotW;
  const py = (v: number): number => MARGIN.top + (1 - ys.fraction(v)) * plotH;
  const usable = (p: readonly [number, number]): boolean =>
    Number.isFinite(p[0]) &&
    Number.isFinite(p[1]) &&
    (xs.kind === 'linear' || p[0] > 0) &&
    (ys.kind === 'linear' || p[1] > 0);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${MARGIN.left}" y="24" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  if (spec.subtitle)
    out.push(`<text x="${MARGIN.left}" y="42" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  for (const t of xs.ticks) {
    const x = px(t).toFixed(1);
    out.push(
      `<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e6e6e6"/>`,
      `<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  for (const t of ys.ticks) {
    const y = py(t).toFixed(1);
    out.push(
      `<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e6e6e6"/>`,
      `<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">${escapeXml(spec.x.label)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.y.label)}</text>`,
  );
  spec.series.forEach((series, i) => {
    const points = series.points.filter(usable);
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    if (points.length > 0) {
      const coords: string[] = [];
      points.forEach((p, k) => {
        if (spec.steps && k > 0)
          coords.push(
            `${px(p[0]).toFixed(1)},${py((points[k - 1] as readonly [number, number])[1]).toFixed(1)}`,
          );
        coords.push(`${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`);
      });
      out.push(
        `<polyline fill="none" stroke="${series.color}" stroke-width="2"${dash} points="${coords.join(' ')}"/>`,
      );
      if (spec.markers) {
        for (const p of points) {
          out.push(
            `<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${series.color}"/>`,
          );
        }
      }
    }
    const ly = MARGIN.top + 10 + i * 20;
    const lx = MARGIN.left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${series.color}" stroke-width="3"${dash}/>`,
      `<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
