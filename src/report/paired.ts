// Paired comparisons and three-valued verdicts. A claim "A beats B" is decided from the runs of A
// and B that share a seed (same initialisation of new parameters, same batch order, same
// augmentation draws, and, where the study draws subsets per seed, the same images): the 95%
// Student-t interval of the mean paired difference. Above zero the claim holds, below zero it
// fails, and an interval that contains zero leaves it undecided: a difference inside the noise is
// evidence neither way.

export type Decision = "holds" | "fails" | "undecided";

export interface PairedDifference {
  /** Number of pairs (seeds present on both sides). */
  n: number;
  /** The seeds that were paired, ascending. */
  seeds: number[];
  /** Mean of a - b over the pairs. */
  mean: number;
  /** Sample standard deviation of the differences (n - 1); 0 for one pair. */
  std: number;
  /** 95% interval of the mean difference; null with fewer than 2 pairs (no noise estimate). */
  lo: number | null;
  hi: number | null;
}

/** What one side of a comparison provides: a value per seed. */
export interface Seeded {
  seed: number;
  value: number;
}

/**
 * The paired difference a - b over the seeds both sides have. A seed that appears twice on one
 * side is a design error (it would pair one run with two), so it throws.
 */
export function pairedDifference(a: readonly Seeded[], b: readonly Seeded[], confidence = 0.95): PairedDifference {
  const byB = new Map<number, number>();
  for (const x of b) {
    if (byB.has(x.seed)) throw new Error(`paired comparison: seed ${x.seed} appears twice on one side`);
    byB.set(x.seed, x.value);
  }
  const seenA = new Set<number>();
  const pairs: [number, number][] = [];
  for (const x of a) {
    if (seenA.has(x.seed)) throw new Error(`paired comparison: seed ${x.seed} appears twice on one side`);
    seenA.add(x.seed);
    const y = byB.get(x.seed);
    if (y !== undefined && Number.isFinite(x.value) && Number.isFinite(y)) pairs.push([x.seed, x.value - y]);
  }
  pairs.sort((p, q) => p[0] - q[0]);
  const d = pairs.map((p) => p[1]);
  const n = d.length;
  const mean = n ? d.reduce((s, v) => s + v, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  let lo: number | null = null;
  let hi: number | null = null;
  if (n > 1) {
    const half = studentTQuantile(1 - (1 - confidence) / 2, n - 1) * (std / Math.sqrt(n));
    lo = mean - half;
    hi = mean + half;
  }
  return { n, seeds: pairs.map((p) => p[0]), mean, std, lo, hi };
}

/**
 * The verdict on "a > b" (direction "greater") or "a < b" ("less") from a paired interval.
 * `margin` shifts the bar: "a is not worse than b by more than m" is ("greater", margin -m).
 */
export function decide(d: PairedDifference, direction: "greater" | "less" = "greater", margin = 0): Decision {
  if (d.lo === null || d.hi === null) return "undecided";
  const lo = direction === "greater" ? d.lo - margin : -(d.hi - margin);
  const hi = direction === "greater" ? d.hi - margin : -(d.lo - margin);
  if (lo > 0) return "holds";
  if (hi < 0) return "fails";
  return "undecided";
}

/** "+1.23 [+0.40, +2.06] points, 5 paired seeds" for accuracy fractions. */
export function describePaired(d: PairedDifference, unit: { scale: number; digits: number; name: string } = { scale: 100, digits: 2, name: "points" }): string {
  const f = (v: number) => {
    const s = (Math.abs(v) * unit.scale).toFixed(unit.digits);
    return v >= 0 ? `+${s}` : `\u2212${s}`;
  };
  if (d.n === 0) return "no paired seeds";
  const interval = d.lo !== null && d.hi !== null ? ` [${f(d.lo)}, ${f(d.hi)}]` : "";
  const seeds = d.n === 1 ? "1 paired seed, no interval" : `${d.n} paired seeds, 95% t interval`;
  return `${f(d.mean)}${interval} ${unit.name} (${seeds})`;
}

// --- Student's t distribution -------------------------------------------------------------------

/** ln Γ(x), Lanczos (g = 7, n = 9), accurate to ~1e-15 for x > 0. */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularised incomplete beta (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** I_x(a, b), the regularised incomplete beta function. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(a, b, x)) / a;
  return 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T <= t) for Student's t with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * regularizedBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with df degrees of freedom (bisection on the CDF). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`t quantile: p must lie in (0, 1), got ${p}`);
  if (!(df > 0)) throw new Error(`t quantile: df must be positive, got ${df}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
