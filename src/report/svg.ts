// Inline SVG charts: bars with error bars, bars of quantities from zero, scatter on a log axis,
// lines, rank heatmaps. Each chart is one standalone, well-formed SVG document (it parses as XML
// on its own and renders inline in HTML), with a <title> for accessibility; no scripts, fonts or
// external references.

/** Okabe-Ito colours (distinguishable with colour-blindness). */
export const COLORS = { blue: "#0072B2", orange: "#E69F00", green: "#009E73", red: "#D55E00", purple: "#CC79A7", sky: "#56B4E9", yellow: "#F0E442", grey: "#7f7f7f", black: "#222222" };

const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";

/** Escapes text for XML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** A number for coordinates: at most 2 decimals, no exponent. */
const n = (x: number): string => (Number.isFinite(x) ? String(Math.round(x * 100) / 100) : "0");

/** Rough width of a label at `size` px (layout only). */
export const textWidth = (s: string, size = 12): number => s.length * size * 0.56;

export function svgDocument(id: string, title: string, width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" id="${esc(id)}" viewBox="0 0 ${n(width)} ${n(height)}" width="${n(width)}" height="${n(height)}" role="img" aria-labelledby="${esc(id)}-title" ${FONT} font-size="12">`,
    `<title id="${esc(id)}-title">${esc(title)}</title>`,
    `<rect x="0" y="0" width="${n(width)}" height="${n(height)}" fill="#ffffff"/>`,
    ...body,
    `</svg>`,
  ].join("\n");
}

export function text(x: number, y: number, s: string, attrs = ""): string {
  return `<text x="${n(x)}" y="${n(y)}"${attrs ? " " + attrs : ""}>${esc(s)}</text>`;
}

export function line(x1: number, y1: number, x2: number, y2: number, attrs = 'stroke="#222222"'): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" ${attrs}/>`;
}

export function rect(x: number, y: number, w: number, h: number, attrs: string): string {
  return `<rect x="${n(x)}" y="${n(y)}" width="${n(Math.max(0, w))}" height="${n(Math.max(0, h))}" ${attrs}/>`;
}

export const linearScale = (d0: number, d1: number, r0: number, r1: number) => (x: number): number => (d1 === d0 ? (r0 + r1) / 2 : r0 + ((x - d0) / (d1 - d0)) * (r1 - r0));

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

/** An accuracy axis in percent around the data: padded, rounded to 5 points, within [0, 100]. */
export function percentDomain(values: readonly number[]): [number, number] {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return [0, 100];
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  const pad = Math.max(2, (hi - lo) * 0.15);
  return [Math.max(0, Math.floor((lo - pad) / 5) * 5), Math.min(100, Math.ceil((hi + pad) / 5) * 5)];
}

interface Plot {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function yAxis(p: Plot, domain: [number, number], label: string): { y: (v: number) => number; parts: string[] } {
  const y = linearScale(domain[0], domain[1], p.y1, p.y0);
  const parts = [line(p.x0, p.y0, p.x0, p.y1)];
  for (const t of niceTicks(domain[0], domain[1], 5)) {
    // toPrecision drops binary noise from fractional steps (0.6000000000000001).
    parts.push(line(p.x0, y(t), p.x1, y(t), 'stroke="#e5e5e5"'), line(p.x0 - 4, y(t), p.x0, y(t)), text(p.x0 - 7, y(t) + 4, String(Number(t.toPrecision(10))), 'text-anchor="end" fill="#444444"'));
  }
  const cy = (p.y0 + p.y1) / 2;
  parts.push(text(14, cy, label, `text-anchor="middle" transform="rotate(-90 14 ${n(cy)})" fill="#222222"`));
  return { y, parts };
}

type LegendItem = { label: string; color: string; dash?: boolean; shape?: "circle" | "line" | "square"; opacity?: number };

/** Width a legend row takes (for sizing the chart around it). */
const legendWidth = (items: readonly LegendItem[]): number => items.reduce((w, it) => w + 23 + textWidth(it.label) + 16, 0);

function legend(x: number, y: number, items: LegendItem[]): string[] {
  const out: string[] = [];
  let cx = x;
  for (const it of items) {
    if (it.shape === "circle") out.push(`<circle cx="${n(cx + 6)}" cy="${n(y - 4)}" r="5" fill="${it.color}"/>`);
    else if (it.shape === "square") out.push(rect(cx + 3, y - 10, 12, 12, `fill="${it.color}"${it.opacity !== undefined ? ` fill-opacity="${it.opacity}"` : ""}`));
    else out.push(line(cx, y - 4, cx + 18, y - 4, `stroke="${it.color}" stroke-width="2.5"${it.dash ? ' stroke-dasharray="5 3"' : ""}`));
    out.push(text(cx + 23, y, it.label, 'fill="#222222"'));
    cx += 23 + textWidth(it.label) + 16;
  }
  return out;
}

export interface Bar {
  label: string;
  /** A second line under the label (e.g. the parameter share). */
  sub?: string;
  /** Percent; null draws "n/a". */
  value: number | null;
  /** Standard deviation in percent (error bar), if any. */
  err?: number | null;
  color?: string;
}

/** Vertical bars with error bars and an optional dashed reference line. */
export function barChart(o: { id: string; title: string; yLabel: string; bars: Bar[]; reference?: { value: number; label: string } | null; width?: number; height?: number }): string {
  const width = o.width ?? Math.max(360, 70 + o.bars.length * 52, o.reference ? 70 + legendWidth([{ label: o.reference.label, color: "" }]) : 0);
  const height = o.height ?? 300;
  const p: Plot = { x0: 52, y0: 28, x1: width - 12, y1: height - 58 };
  const vals = o.bars.flatMap((b) => (b.value === null ? [] : [b.value - (b.err ?? 0), b.value + (b.err ?? 0)]));
  if (o.reference) vals.push(o.reference.value);
  const dom = percentDomain(vals);
  const { y, parts } = yAxis(p, dom, o.yLabel);
  const slot = (p.x1 - p.x0) / Math.max(1, o.bars.length);
  const bw = Math.min(40, slot * 0.66);
  o.bars.forEach((b, i) => {
    const cx = p.x0 + slot * (i + 0.5);
    if (b.value === null) parts.push(text(cx, p.y1 - 6, "n/a", 'text-anchor="middle" fill="#777777"'));
    else {
      const top = y(Math.max(dom[0], Math.min(dom[1], b.value)));
      parts.push(rect(cx - bw / 2, top, bw, p.y1 - top, `fill="${b.color ?? COLORS.blue}"`));
      parts.push(text(cx, top - 4 - (b.err ? 0 : 0), b.value.toFixed(1), 'text-anchor="middle" font-size="10" fill="#333333"'));
      if (b.err) {
        const e0 = y(Math.max(dom[0], b.value - b.err));
        const e1 = y(Math.min(dom[1], b.value + b.err));
        parts.push(line(cx, e0, cx, e1, 'stroke="#222222" stroke-width="1.2"'), line(cx - 5, e0, cx + 5, e0, 'stroke="#222222"'), line(cx - 5, e1, cx + 5, e1, 'stroke="#222222"'));
      }
    }
    parts.push(text(cx, p.y1 + 16, b.label, 'text-anchor="middle" font-weight="600" fill="#222222"'));
    if (b.sub) parts.push(text(cx, p.y1 + 30, b.sub, 'text-anchor="middle" font-size="10" fill="#555555"'));
  });
  parts.push(line(p.x0, p.y1, p.x1, p.y1));
  if (o.reference) {
    const ry = y(o.reference.value);
    parts.push(line(p.x0, ry, p.x1, ry, `stroke="${COLORS.red}" stroke-width="1.5" stroke-dasharray="6 4"`));
    parts.push(...legend(p.x0 + 8, height - 10, [{ label: o.reference.label, color: COLORS.red, dash: true }]));
  }
  parts.unshift(text(p.x0, 16, o.title, 'font-weight="600" fill="#222222"'));
  return svgDocument(o.id, o.title, width, height, parts);
}

/** A quantity axis from zero (milliseconds, MiB) with a little headroom, ending on a round tick. */
export function zeroDomain(values: readonly number[]): [number, number] {
  const hi = Math.max(0, ...values.filter((x) => Number.isFinite(x)));
  if (hi === 0) return [0, 1];
  const ticks = niceTicks(0, hi * 1.12, 5);
  const last = ticks[ticks.length - 1];
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : hi;
  return [0, last >= hi * 1.12 ? last : last + step];
}

export interface ValueBar {
  label: string;
  /** A second line under the label (e.g. the ratio to the reference). */
  sub?: string;
  /** One value per series; null draws "n/a". */
  values: (number | null)[];
  color: string;
}

/**
 * Bars of a quantity from zero (Fig. 5's latencies and memory): one group per label, one bar per
 * series (later series lighter, in the label's colour), value labels on top, and an optional
 * dashed reference line.
 */
export function valueBarChart(o: { id: string; title: string; yLabel: string; bars: ValueBar[]; series?: string[]; digits?: number[]; reference?: { value: number; label: string } | null; width?: number; height?: number }): string {
  const series = o.series ?? [""];
  const k = series.length;
  const opacity = (j: number) => (j === 0 ? 1 : 0.4);
  const legendItems: LegendItem[] = [
    ...(k > 1 ? series.map((label, j) => ({ label, color: COLORS.grey, shape: "square" as const, opacity: opacity(j) })) : []),
    ...(o.reference ? [{ label: o.reference.label, color: COLORS.red, dash: true }] : []),
  ];
  const slotWidth = k > 1 ? 26 + 24 * k : 58;
  const width = o.width ?? Math.max(360, 70 + o.bars.length * slotWidth, 62 + legendWidth(legendItems), 60 + textWidth(o.title));
  const height = o.height ?? 300;
  const p: Plot = { x0: 52, y0: 28, x1: width - 12, y1: height - (legendItems.length ? 62 : 46) };
  const vals = o.bars.flatMap((b) => b.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (o.reference) vals.push(o.reference.value);
  const dom = zeroDomain(vals);
  const { y, parts } = yAxis(p, dom, o.yLabel);
  const slot = (p.x1 - p.x0) / Math.max(1, o.bars.length);
  const bw = Math.min(k > 1 ? 22 : 40, (slot * 0.8) / k);
  o.bars.forEach((b, i) => {
    const cx = p.x0 + slot * (i + 0.5);
    b.values.forEach((v, j) => {
      const bx = cx - (bw * k) / 2 + j * bw;
      if (v === null || !Number.isFinite(v)) {
        parts.push(text(bx + bw / 2, p.y1 - 6, "n/a", 'text-anchor="middle" font-size="9" fill="#777777"'));
        return;
      }
      const top = y(Math.min(dom[1], Math.max(0, v)));
      parts.push(rect(bx, top, bw - (k > 1 ? 1 : 0), p.y1 - top, `fill="${b.color}"${opacity(j) < 1 ? ` fill-opacity="${opacity(j)}"` : ""}`));
      parts.push(text(bx + bw / 2, top - 4, v.toFixed(o.digits?.[j] ?? 1), `text-anchor="middle" font-size="${k > 1 ? 9 : 10}" fill="#333333"`));
    });
    parts.push(text(cx, p.y1 + 16, b.label, 'text-anchor="middle" font-weight="600" fill="#222222"'));
    if (b.sub) parts.push(text(cx, p.y1 + 30, b.sub, 'text-anchor="middle" font-size="10" fill="#555555"'));
  });
  parts.push(line(p.x0, p.y1, p.x1, p.y1));
  if (o.reference) parts.push(line(p.x0, y(o.reference.value), p.x1, y(o.reference.value), `stroke="${COLORS.red}" stroke-width="1.5" stroke-dasharray="6 4"`));
  if (legendItems.length) parts.push(...legend(p.x0, height - 8, legendItems));
  parts.unshift(text(p.x0, 16, o.title, 'font-weight="600" fill="#222222"'));
  return svgDocument(o.id, o.title, width, height, parts);
}

export interface Point {
  x: number;
  /** Percent. */
  y: number;
  label: string;
  color: string;
  /** Error bar (std) in percent. */
  err?: number | null;
}

/** Points on a log-10 x axis (trainable parameters) against accuracy, labelled. */
export function scatterChart(o: { id: string; title: string; xLabel: string; yLabel: string; points: Point[]; legend: { label: string; color: string }[]; width?: number; height?: number }): string {
  const width = o.width ?? Math.max(540, 62 + legendWidth(o.legend.map((l) => ({ ...l, shape: "circle" as const }))));
  const height = o.height ?? 340;
  const p: Plot = { x0: 52, y0: 28, x1: width - 20, y1: height - 62 };
  const pts = o.points.filter((q) => q.x > 0 && Number.isFinite(q.y));
  const dom = percentDomain(pts.flatMap((q) => [q.y - (q.err ?? 0), q.y + (q.err ?? 0)]));
  const { y, parts } = yAxis(p, dom, o.yLabel);
  const lx = pts.map((q) => Math.log10(q.x));
  const lo = Math.floor(Math.min(...lx, 6) * 2) / 2 - (pts.length ? 0 : 0);
  const hi = Math.ceil(Math.max(...lx, 1) * 2) / 2;
  const x = linearScale(lo, hi, p.x0 + 10, p.x1 - 10);
  parts.push(line(p.x0, p.y1, p.x1, p.y1));
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
    const label = e >= 6 ? `${10 ** (e - 6)}M` : e >= 3 ? `${10 ** (e - 3)}k` : String(10 ** e);
    parts.push(line(x(e), p.y1, x(e), p.y1 + 4), text(x(e), p.y1 + 17, label, 'text-anchor="middle" fill="#444444"'), line(x(e), p.y0, x(e), p.y1, 'stroke="#eeeeee"'));
  }
  parts.push(text((p.x0 + p.x1) / 2, p.y1 + 34, o.xLabel, 'text-anchor="middle" fill="#222222"'));
  // Points first, then each label at the first of a few places around its point that overlaps
  // neither another label nor a point.
  const at = pts.map((q) => ({ q, cx: x(Math.log10(q.x)), cy: y(q.y) }));
  for (const { q, cx, cy } of at) {
    if (q.err) parts.push(line(cx, y(q.y - q.err), cx, y(q.y + q.err), `stroke="${q.color}" stroke-width="1.2"`));
    parts.push(`<circle cx="${n(cx)}" cy="${n(cy)}" r="5" fill="${q.color}" stroke="#ffffff" stroke-width="1"/>`);
  }
  type Box = { x0: number; y0: number; x1: number; y1: number };
  const taken: Box[] = at.map(({ cx, cy }) => ({ x0: cx - 5, y0: cy - 5, x1: cx + 5, y1: cy + 5 }));
  const hits = (b: Box) => b.x0 < p.x0 || b.x1 > width - 2 || b.y0 < p.y0 - 14 || taken.some((t) => b.x0 < t.x1 && t.x0 < b.x1 && b.y0 < t.y1 && t.y0 < b.y1);
  for (const { q, cx, cy } of [...at].sort((a, b) => a.cx - b.cx)) {
    const w = textWidth(q.label, 10);
    const spots = [
      { x: cx, y: cy - 9, anchor: "middle" },
      { x: cx, y: cy + 17, anchor: "middle" },
      { x: cx + 8, y: cy + 4, anchor: "start" },
      { x: cx - 8, y: cy + 4, anchor: "end" },
      { x: cx, y: cy - 21, anchor: "middle" },
      { x: cx, y: cy + 29, anchor: "middle" },
    ];
    const boxOf = (sp: (typeof spots)[number]): Box => {
      const x0 = sp.anchor === "middle" ? sp.x - w / 2 : sp.anchor === "start" ? sp.x : sp.x - w;
      return { x0, y0: sp.y - 10, x1: x0 + w, y1: sp.y + 2 };
    };
    const spot = spots.find((sp) => !hits(boxOf(sp))) ?? spots[0];
    taken.push(boxOf(spot));
    parts.push(text(spot.x, spot.y, q.label, `text-anchor="${spot.anchor}" font-size="10" fill="#333333"`));
  }
  parts.push(...legend(p.x0, height - 8, o.legend.map((l) => ({ ...l, shape: "circle" as const }))));
  parts.unshift(text(p.x0, 16, o.title, 'font-weight="600" fill="#222222"'));
  return svgDocument(o.id, o.title, width, height, parts);
}

export interface Series {
  name: string;
  color: string;
  dash?: boolean;
  /** Percent per x category; null leaves a gap. */
  values: (number | null)[];
}

/** Lines over categorical x values, with an optional dashed reference (Fig. 6's full fine-tuning). */
export function lineChart(o: { id: string; title: string; xLabel: string; yLabel: string; x: string[]; series: Series[]; reference?: { value: number; label: string } | null; width?: number; height?: number }): string {
  const legendItems: LegendItem[] = [...o.series.map((s) => ({ label: s.name, color: s.color, dash: s.dash })), ...(o.reference ? [{ label: o.reference.label, color: COLORS.red, dash: true }] : [])];
  const width = o.width ?? Math.max(380, 120 + o.x.length * 70, 62 + legendWidth(legendItems));
  const height = o.height ?? 300;
  const p: Plot = { x0: 52, y0: 28, x1: width - 16, y1: height - 62 };
  const vals = o.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  if (o.reference) vals.push(o.reference.value);
  const dom = percentDomain(vals);
  const { y, parts } = yAxis(p, dom, o.yLabel);
  const x = (i: number) => p.x0 + ((p.x1 - p.x0) * (i + 0.5)) / Math.max(1, o.x.length);
  parts.push(line(p.x0, p.y1, p.x1, p.y1));
  o.x.forEach((lab, i) => parts.push(line(x(i), p.y1, x(i), p.y1 + 4), text(x(i), p.y1 + 17, lab, 'text-anchor="middle" fill="#444444"')));
  parts.push(text((p.x0 + p.x1) / 2, p.y1 + 34, o.xLabel, 'text-anchor="middle" fill="#222222"'));
  if (o.reference) parts.push(line(p.x0, y(o.reference.value), p.x1, y(o.reference.value), `stroke="${COLORS.red}" stroke-width="1.5" stroke-dasharray="6 4"`));
  o.series.forEach((s, k) => {
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null) return;
      d += `${d && s.values[i - 1] !== null ? "L" : "M"}${n(x(i))} ${n(y(v))} `;
    });
    if (d) parts.push(`<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dash ? ' stroke-dasharray="5 3"' : ""}/>`);
    // Value labels: the first series above its points, the others below, so equal values stay readable.
    s.values.forEach((v, i) => {
      if (v !== null) parts.push(`<circle cx="${n(x(i))}" cy="${n(y(v))}" r="4" fill="${s.color}"/>`, text(x(i), y(v) + (k === 0 ? -8 : 16), v.toFixed(1), `text-anchor="middle" font-size="10" fill="${s.color}"`));
    });
  });
  parts.push(...legend(p.x0, height - 8, legendItems));
  parts.unshift(text(p.x0, 16, o.title, 'font-weight="600" fill="#222222"'));
  return svgDocument(o.id, o.title, width, height, parts);
}

export interface HeatBlock {
  title: string;
  columns: string[];
  rows: string[];
  /** values[row][column]: ranks (1 = largest angle); null draws an empty cell. */
  values: (number | null)[][];
  /** The largest rank (the lightest colour is rank 1, the darkest rank `max`). */
  max: number;
  /** A line under the block (e.g. its mean Kendall tau). */
  note?: string;
}

/** Light (rank 1, the largest angle) to dark blue, as Fig. 4 colours ranks. */
function rankColor(rank: number, max: number): { fill: string; ink: string } {
  const t = max > 1 ? (rank - 1) / (max - 1) : 0;
  const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
  const [r, g, b] = [mix(0xf1, 0x08), mix(0xf6, 0x3a), mix(0xfc, 0x7a)];
  return { fill: `rgb(${r},${g},${b})`, ink: t > 0.5 ? "#ffffff" : "#111111" };
}

/** Rank heatmaps side by side (Fig. 4): one block per homogeneous group, columns = configurations. */
export function heatmap(o: { id: string; title: string; blocks: HeatBlock[] }): string {
  const cell = 34;
  const rowLabel = Math.max(60, ...o.blocks.flatMap((b) => b.rows.map((r) => textWidth(r, 10) + 12)));
  const colLabelH = Math.max(40, ...o.blocks.flatMap((b) => b.columns.map((c) => textWidth(c, 10) * 0.72 + 16)));
  const gap = 28;
  // Column labels are rotated -40 degrees from their cell's centre: they reach right by cos(40) of their length.
  const overhang = Math.max(0, ...o.blocks.flatMap((b) => b.columns.map((c) => textWidth(c, 10) * 0.77 - cell / 2)));
  const blockW = o.blocks.map((b) => Math.max(rowLabel + b.columns.length * cell + overhang, rowLabel + textWidth(b.title, 11)));
  const width = Math.max(320, blockW.reduce((a, b) => a + b + gap, 0) + 10, textWidth(o.title) + 30);
  const rowsMax = Math.max(...o.blocks.map((b) => b.rows.length));
  const height = 40 + colLabelH + rowsMax * cell + 36;
  const parts: string[] = [text(10, 18, o.title, 'font-weight="600" fill="#222222"')];
  let bx = 10;
  o.blocks.forEach((b, k) => {
    const top = 36 + colLabelH;
    const gx = bx + rowLabel;
    parts.push(text(gx, 36, b.title, 'font-weight="600" font-size="11" fill="#333333"'));
    b.columns.forEach((c, j) => {
      const cx = gx + j * cell + cell / 2;
      parts.push(text(cx, top - 6, c, `font-size="10" fill="#333333" transform="rotate(-40 ${n(cx)} ${n(top - 6)})"`));
    });
    b.rows.forEach((r, i) => {
      parts.push(text(gx - 6, top + i * cell + cell / 2 + 4, r, 'text-anchor="end" font-size="10" fill="#333333"'));
      b.columns.forEach((_, j) => {
        const v = b.values[i]?.[j] ?? null;
        const x = gx + j * cell;
        const y = top + i * cell;
        if (v === null) parts.push(rect(x, y, cell - 2, cell - 2, 'fill="#f4f4f4" stroke="#dddddd"'));
        else {
          const c = rankColor(v, b.max);
          parts.push(rect(x, y, cell - 2, cell - 2, `fill="${c.fill}"`), text(x + (cell - 2) / 2, y + cell / 2 + 3, String(v), `text-anchor="middle" font-size="11" fill="${c.ink}"`));
        }
      });
    });
    if (b.note) parts.push(text(gx, top + b.rows.length * cell + 16, b.note, 'font-size="11" fill="#333333"'));
    bx += blockW[k] + gap;
  });
  return svgDocument(o.id, o.title, width, height, parts);
}
