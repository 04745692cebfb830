// Small statistics and number formats for the report.

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single value. */
  std: number;
  min: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary | null {
  if (xs.length === 0) return null;
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, std, min: Math.min(...xs), max: Math.max(...xs) };
}

export function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** An accuracy fraction as a percentage: 0.7234 -> "72.34". */
export const pct = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "-" : (x * 100).toFixed(digits));

/** "72.34 ± 1.20" (n > 1) or "72.34" (one seed). */
export function pctStd(s: Summary | null): string {
  if (!s) return "-";
  return s.n > 1 ? `${pct(s.mean)} ± ${pct(s.std)}` : pct(s.mean);
}

/** A difference of accuracies in points, signed: +1.23 / −0.40 (a real minus sign). */
export function points(d: number, digits = 2): string {
  const v = (Math.abs(d) * 100).toFixed(digits);
  return d >= 0 ? `+${v}` : `\u2212${v}`;
}

/** An exact count with thousands separators. */
export const count = (n: number | null | undefined): string => (n === null || n === undefined ? "-" : Math.round(n).toLocaleString("en-US"));

/** A parameter count as a share of a total: "35.2%". */
export const share = (n: number, total: number): string => `${((100 * n) / total).toFixed(n / total < 0.01 ? 2 : 1)}%`;

/** Seconds as "12.3 s" or "4m05s". */
export function duration(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, "0")}s`;
}

export const fixed = (x: number | null | undefined, digits = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits));
