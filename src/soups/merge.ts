// Soups over deltas from the common pretrained weights: every method below sees, per tensor, the
// base's values b and each ingredient's x_i (its delta d_i = x_i - b), and streams like the
// uniform soup (average.ts): one tensor name at a time, float64 arithmetic in buffers reused from
// tensor to tensor, one rounding to the checkpoint's dtype. Memory holds a few float64 copies of
// the largest tensor, never a checkpoint, whatever the number of ingredients.
//
//   changed-mean      mean of the ingredients that changed the tensor (x_i != b); b if none did
//   task-arithmetic   b + lambda * sum_i d_i                              (Ilharco et al. 2023)
//   ties              b + lambda * disjoint mean of the trimmed, sign-elected d_i   (Yadav et al. 2023)
//   wise-ft           (1 - alpha) * b + alpha * mean_i x_i                 (Wortsman et al. 2022)
//   model-stock       t * mean_i x_i + (1 - t) * b, t from the angle between the d_i (Jang et al. 2024)
//
// Shared rules (docs/cli.md, "Soups over deltas"):
// - A tensor every ingredient holds bit for bit as the base (a unit no ingredient tuned) is the
//   base's bytes, copied once, under every method.
// - A tensor the base lacks, or holds with another shape or dtype (a classifier head re-initialised
//   for the new classes), has no common origin: every method takes the ingredients' uniform mean.
// - Integer tensors must be identical in every ingredient (as in the uniform soup).
import { join } from "node:path";
import { isFloatingDType } from "../engine/index.js";
import { PftError } from "../errors.js";
import { naturalCompare } from "../models/index.js";
import type { SafetensorsEntry } from "../nn/index.js";
import { averageTensors, narrowWithTorch, soupTensor, withWidened, type AverageSummary, type SoupObserver, type SoupTensor } from "./average.js";
import type { IngredientSet } from "./ingredients.js";
import { SafetensorsStreamWriter, type RawTensorReader } from "./stream.js";

/** A soup method and its parameters; the keys are the CLI's method names. */
export type MergeSpec =
  | { method: "uniform" }
  | { method: "changed-mean" }
  | { method: "task-arithmetic"; lambda: number }
  | { method: "ties"; density: number; lambda?: number }
  | { method: "wise-ft"; alpha: number }
  | { method: "model-stock" };

export type MergeMethod = MergeSpec["method"];

export const MERGE_METHODS: readonly MergeMethod[] = ["uniform", "changed-mean", "task-arithmetic", "ties", "wise-ft", "model-stock"];

/** Methods that need the pretrained weights (all but uniform, which is the same from any base). */
export const needsBase = (m: MergeMethod): boolean => m !== "uniform";

/** Checks a spec's parameters: PftError("argument") naming the flag and the value. */
export function validateMergeSpec(s: MergeSpec): MergeSpec {
  const bad = (flag: string, v: unknown, want: string) => new PftError("argument", `--${flag} must be ${want}, got ${String(v)}`);
  switch (s.method) {
    case "uniform":
    case "changed-mean":
    case "model-stock":
      return s;
    case "task-arithmetic":
      if (typeof s.lambda !== "number" || !Number.isFinite(s.lambda)) throw bad("lambda", s.lambda, "a finite number");
      return s;
    case "ties":
      if (typeof s.density !== "number" || !(s.density > 0 && s.density <= 1)) throw bad("density", s.density, "a fraction in (0, 1]");
      if (s.lambda !== undefined && !Number.isFinite(s.lambda)) throw bad("lambda", s.lambda, "a finite number");
      return s;
    case "wise-ft":
      if (typeof s.alpha !== "number" || !(s.alpha >= 0 && s.alpha <= 1)) throw bad("alpha", s.alpha, "in [0, 1]");
      return s;
    default:
      throw new PftError("argument", `unknown soup method '${String((s as { method: unknown }).method)}' (${MERGE_METHODS.join(", ")})`);
  }
}

/** A merged tensor: a SoupTensor plus how many ingredients changed it and, for model-stock, its ratio t. */
export interface MergedTensor extends SoupTensor {
  /** Ingredients whose bytes differ from the base's (-1: the base has no such tensor). */
  readonly changedBy: number;
  /** model-stock's interpolation ratio for this tensor (null for other methods, copied or unbased tensors). */
  readonly t: number | null;
}

export interface MergeOptions {
  observe?: SoupObserver;
}

// ---------------------------------------------------------------------------------------------- buffers

/** Float64 and byte buffers reused from tensor to tensor, grown to the largest tensor seen. */
class Buffers {
  #f64 = new Map<string, Float64Array>();
  #bytes = new Map<string, Uint8Array>();
  f64(key: string, n: number): Float64Array {
    let a = this.#f64.get(key);
    if (!a || a.length < n) this.#f64.set(key, (a = new Float64Array(n)));
    return a.subarray(0, n);
  }
  bytes(key: string, n: number): Uint8Array {
    let a = this.#bytes.get(key);
    if (!a || a.length < n) this.#bytes.set(key, (a = new Uint8Array(n)));
    return a.subarray(0, n);
  }
}

const numelOf = (e: SafetensorsEntry): number => e.shape.reduce((a, b) => a * b, 1);
const sameLayout = (a: SafetensorsEntry, b: SafetensorsEntry): boolean => a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

/** The stored values as float64 into `out` (exact for every floating dtype). */
export function widen(bytes: Uint8Array, e: SafetensorsEntry, out: Float64Array): Float64Array {
  const n = out.length;
  if (e.dtype === "float32" && bytes.byteOffset % 4 === 0) {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
    return out;
  }
  if (e.dtype === "float64" && bytes.byteOffset % 8 === 0) {
    out.set(new Float64Array(bytes.buffer, bytes.byteOffset, n));
    return out;
  }
  withWidened(bytes, e, (v) => out.set(v));
  return out;
}

/** `values` rounded once to the entry's dtype, as bytes (a reused buffer for float32/float64). */
function narrow(values: Float64Array, e: SafetensorsEntry, buf: Buffers): Uint8Array {
  const n = values.length;
  if (e.dtype === "float32") {
    const out = buf.bytes("out", n * 4);
    new Float32Array(out.buffer, out.byteOffset, n).set(values); // round to nearest float32
    return out;
  }
  if (e.dtype === "float64") {
    const out = buf.bytes("out", n * 8);
    new Float64Array(out.buffer, out.byteOffset, n).set(values);
    return out;
  }
  return narrowWithTorch(values, e);
}

/** Byte buffers are 8-aligned views of their own ArrayBuffer (Buffers.bytes), so widen's fast path applies. */
function readAligned(r: RawTensorReader, name: string, key: string, e: SafetensorsEntry, buf: Buffers): Uint8Array {
  return r.readInto(name, buf.bytes(key, e.byteLength));
}

// ---------------------------------------------------------------------------------------------- one tensor

/** One tensor name across the base and the ingredients, read on demand into reused buffers. */
class TensorSource {
  readonly entry: SafetensorsEntry;
  readonly numel: number;
  /** The base's bytes and float64 values; null when the base has no tensor of this name, shape and dtype. */
  readonly baseBytes: Uint8Array | null;
  readonly base: Float64Array | null;
  constructor(
    readonly name: string,
    readonly readers: readonly RawTensorReader[],
    baseReader: RawTensorReader,
    readonly buf: Buffers,
    readonly observe: SoupObserver | undefined,
  ) {
    this.entry = readers[0].entry(name);
    this.numel = numelOf(this.entry);
    const be = baseReader.entries.get(name);
    if (be && sameLayout(be, this.entry) && isFloatingDType(this.entry.dtype)) {
      this.baseBytes = readAligned(baseReader, name, "base", be, buf);
      this.base = widen(this.baseBytes, be, buf.f64("base", this.numel));
    } else {
      this.baseBytes = null;
      this.base = null;
    }
  }
  get k(): number {
    return this.readers.length;
  }
  /** Ingredient i's bytes, and whether they differ from the base's. */
  read(i: number): { bytes: Uint8Array; changed: boolean } {
    const bytes = readAligned(this.readers[i], this.name, "x", this.entry, this.buf);
    this.observe?.({ name: this.name, ingredient: i });
    return { bytes, changed: this.baseBytes === null || Buffer.compare(bytes, this.baseBytes) !== 0 };
  }
  /** Ingredient i's values as float64 (a reused buffer, valid until the next call). */
  values(bytes: Uint8Array): Float64Array {
    return widen(bytes, this.entry, this.buf.f64("x", this.numel));
  }
  /** d = x - b into a reused buffer. */
  delta(x: Float64Array): Float64Array {
    const d = this.buf.f64("d", this.numel);
    const b = this.base!;
    for (let j = 0; j < d.length; j++) d[j] = x[j] - b[j];
    return d;
  }
}

type Computed = { kind: "bytes"; bytes: Uint8Array; shared: boolean } | { kind: "values"; values: Float64Array };

/**
 * The streaming skeleton every delta method shares: per name, integer tensors (identical in all)
 * and unbased tensors (their uniform mean) are handled here; a based floating tensor goes to
 * `kernel`, which returns the result's float64 values, or the base's bytes when nothing changed.
 */
function* streamMerge(
  readers: readonly RawTensorReader[],
  base: RawTensorReader,
  names: readonly string[],
  opts: MergeOptions,
  kernel: (src: TensorSource) => { result: Computed; changedBy: number; t?: number | null },
): Generator<MergedTensor> {
  if (readers.length === 0) throw new PftError("argument", "a soup needs at least one checkpoint");
  const buf = new Buffers();
  for (const name of names) {
    const src = new TensorSource(name, readers, base, buf, opts.observe);
    let r: { result: Computed; changedBy: number; t?: number | null };
    if (!isFloatingDType(src.entry.dtype)) r = { result: identicalBytes(src), changedBy: -1 };
    else if (src.base === null) r = { result: uniformMean(src), changedBy: -1 };
    else r = kernel(src);
    const bytes = r.result.kind === "bytes" ? r.result.bytes : narrow(r.result.values, src.entry, buf);
    const shared = r.result.kind === "bytes" && r.result.shared;
    const t = soupTensor(name, src.entry, shared, bytes);
    try {
      yield { ...t.value, changedBy: r.changedBy, t: r.t ?? null };
    } finally {
      t.release();
    }
  }
}

/** An integer tensor: the same bytes in every ingredient, or an error. */
function identicalBytes(src: TensorSource): Computed {
  const first = src.buf.bytes("first", src.entry.byteLength);
  first.set(src.read(0).bytes);
  for (let i = 1; i < src.k; i++) {
    if (Buffer.compare(first, src.read(i).bytes) !== 0) {
      throw new PftError("checkpoint", `tensor '${src.name}' (${src.entry.dtype}) differs between ${src.readers[0].path} and ${src.readers[i].path}: only floating-point tensors can be merged`);
    }
  }
  return { kind: "bytes", bytes: first, shared: true };
}

/** mean_i x_i into the "sum" buffer (float64, summed in ingredient order). */
function sumOfIngredients(src: TensorSource, onEach?: (i: number, changed: boolean, x: Float64Array) => void): { sum: Float64Array; changedBy: number } {
  const sum = src.buf.f64("sum", src.numel).fill(0);
  let changedBy = 0;
  for (let i = 0; i < src.k; i++) {
    const { bytes, changed } = src.read(i);
    if (changed) changedBy++;
    const x = src.values(bytes);
    for (let j = 0; j < sum.length; j++) sum[j] += x[j];
    onEach?.(i, changed, x);
  }
  return { sum, changedBy };
}

function uniformMean(src: TensorSource): Computed {
  const { sum } = sumOfIngredients(src);
  for (let j = 0; j < sum.length; j++) sum[j] /= src.k;
  return { kind: "values", values: sum };
}

const baseCopy = (src: TensorSource): Computed => ({ kind: "bytes", bytes: src.baseBytes!, shared: true });

// ---------------------------------------------------------------------------------------------- the methods

/**
 * changed-mean: per tensor, the mean over only the ingredients that changed it (bytes differ from
 * the base). A unit tuned by k of N ingredients keeps its whole mean change instead of k/N of it;
 * a tensor every ingredient changed is the uniform soup's value.
 */
export function* changedMeanTensors(readers: readonly RawTensorReader[], base: RawTensorReader, names: readonly string[], opts: MergeOptions = {}): Generator<MergedTensor> {
  yield* streamMerge(readers, base, names, opts, (src) => {
    const sum = src.buf.f64("sum", src.numel).fill(0);
    let changedBy = 0;
    for (let i = 0; i < src.k; i++) {
      const { bytes, changed } = src.read(i);
      if (!changed) continue;
      changedBy++;
      const x = src.values(bytes);
      for (let j = 0; j < sum.length; j++) sum[j] += x[j];
    }
    if (changedBy === 0) return { result: baseCopy(src), changedBy };
    for (let j = 0; j < sum.length; j++) sum[j] /= changedBy;
    return { result: { kind: "values", values: sum }, changedBy };
  });
}

/** task-arithmetic: b + lambda * sum_i (x_i - b). lambda = 1/N is the uniform soup (up to rounding). */
export function* taskArithmeticTensors(readers: readonly RawTensorReader[], base: RawTensorReader, names: readonly string[], lambda: number, opts: MergeOptions = {}): Generator<MergedTensor> {
  yield* streamMerge(readers, base, names, opts, (src) => {
    const b = src.base!;
    const tau = src.buf.f64("tau", src.numel).fill(0);
    let changedBy = 0;
    for (let i = 0; i < src.k; i++) {
      const { bytes, changed } = src.read(i);
      if (!changed) continue;
      changedBy++;
      const x = src.values(bytes);
      for (let j = 0; j < tau.length; j++) tau[j] += x[j] - b[j];
    }
    if (changedBy === 0) return { result: baseCopy(src), changedBy };
    for (let j = 0; j < tau.length; j++) tau[j] = b[j] + lambda * tau[j];
    return { result: { kind: "values", values: tau }, changedBy };
  });
}

/** How many of n values TIES keeps at `density`: floor(density * n) as mergekit, at least 1. */
export const tiesKeep = (density: number, n: number): number => Math.min(n, Math.max(1, Math.floor(density * n + 1e-9)));

/**
 * The k-th smallest of `a` (0-based), reordering `a` in place (Hoare selection with a
 * median-of-three pivot: expected linear time, fine with many equal values).
 */
export function selectKth(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // median of three at mid
    if (a[mid] < a[lo]) swap(a, mid, lo);
    if (a[hi] < a[lo]) swap(a, hi, lo);
    if (a[hi] < a[mid]) swap(a, hi, mid);
    const pivot = a[mid];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) swap(a, i++, j--);
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i];
  a[i] = a[j];
  a[j] = t;
}

/** TIES's trim of one delta: which elements survive (magnitude rank), as a threshold and a tie allowance. */
interface Trim {
  threshold: number;
  /** How many elements equal to the threshold survive, the first ones in index order. */
  atThreshold: number;
}

function trimOf(d: Float64Array, keep: number, scratch: Float64Array): Trim {
  const n = d.length;
  for (let j = 0; j < n; j++) scratch[j] = Math.abs(d[j]);
  const threshold = selectKth(scratch, n - keep); // the keep-th largest magnitude
  let above = 0;
  for (let j = 0; j < n; j++) if (Math.abs(d[j]) > threshold) above++;
  return { threshold, atThreshold: keep - above };
}

/** d with the trimmed elements set to 0, in place. */
function applyTrim(d: Float64Array, trim: Trim): void {
  let ties = trim.atThreshold;
  for (let j = 0; j < d.length; j++) {
    const m = Math.abs(d[j]);
    if (m > trim.threshold) continue;
    if (m === trim.threshold && ties > 0) {
      ties--;
      continue;
    }
    d[j] = 0;
  }
}

/**
 * TIES (Yadav et al. 2023), per tensor: (1) trim each delta to its top-`density` magnitudes
 * (tiesKeep elements; ties at the threshold kept in index order); (2) elect each element's sign
 * as the sign of the trimmed deltas' sum, an exact zero taking the tensor's majority elected sign
 * (Yadav et al.'s resolve_zero_signs), and + if that too is a tie (mergekit's `>= 0`); (3) the
 * disjoint mean: the mean of the trimmed deltas that are non-zero and agree with the elected
 * sign (0 where none does); the result is b + lambda * that mean. Two passes over the
 * ingredients per tensor (the vote, then the mean), so memory does not grow with their number.
 */
export function* tiesTensors(readers: readonly RawTensorReader[], base: RawTensorReader, names: readonly string[], density: number, lambda = 1, opts: MergeOptions = {}): Generator<MergedTensor> {
  yield* streamMerge(readers, base, names, opts, (src) => {
    const n = src.numel;
    const keep = tiesKeep(density, n);
    const scratch = src.buf.f64("abs", n);
    const vote = src.buf.f64("vote", n).fill(0);
    const trims: (Trim | null)[] = [];
    for (let i = 0; i < src.k; i++) {
      const { bytes, changed } = src.read(i);
      if (!changed) {
        trims.push(null); // a zero delta trims to zero and votes for nothing
        continue;
      }
      const d = src.delta(src.values(bytes));
      const trim = trimOf(d, keep, scratch);
      applyTrim(d, trim);
      trims.push(trim);
      for (let j = 0; j < n; j++) vote[j] += d[j];
    }
    const changedBy = trims.filter((t) => t !== null).length;
    if (changedBy === 0) return { result: baseCopy(src), changedBy };
    // the elected sign, in place of the vote: +1 or -1
    let majority = 0;
    for (let j = 0; j < n; j++) majority += Math.sign(vote[j]);
    const tieSign = majority < 0 ? -1 : 1;
    for (let j = 0; j < n; j++) vote[j] = vote[j] > 0 ? 1 : vote[j] < 0 ? -1 : tieSign;
    const sum = src.buf.f64("sum", n).fill(0);
    const count = src.buf.f64("count", n).fill(0);
    for (let i = 0; i < src.k; i++) {
      const trim = trims[i];
      if (trim === null) continue;
      const d = src.delta(src.values(src.read(i).bytes));
      applyTrim(d, trim);
      for (let j = 0; j < n; j++) {
        const v = d[j];
        if (v !== 0 && Math.sign(v) === vote[j]) {
          sum[j] += v;
          count[j]++;
        }
      }
    }
    const b = src.base!;
    for (let j = 0; j < n; j++) sum[j] = b[j] + lambda * (count[j] > 0 ? sum[j] / count[j] : 0);
    return { result: { kind: "values", values: sum }, changedBy };
  });
}

/**
 * WiSE-FT (Wortsman et al. 2022): (1 - alpha) * b + alpha * m, where m is the one fine-tune or the
 * uniform soup of several. alpha = 1 is m (the uniform soup, bit for bit); alpha = 0 is the base.
 */
export function* wiseFtTensors(readers: readonly RawTensorReader[], base: RawTensorReader, names: readonly string[], alpha: number, opts: MergeOptions = {}): Generator<MergedTensor> {
  yield* streamMerge(readers, base, names, opts, (src) => {
    const { sum, changedBy } = sumOfIngredients(src);
    if (changedBy === 0) return { result: baseCopy(src), changedBy };
    const b = src.base!;
    for (let j = 0; j < sum.length; j++) sum[j] = (1 - alpha) * b[j] + alpha * (sum[j] / src.k);
    return { result: { kind: "values", values: sum }, changedBy };
  });
}

/**
 * Model Stock's ratio for one tensor (Jang et al. 2024, eq. for N models): t = N cos / (1 + (N - 1) cos),
 * cos the mean pairwise cosine between the N deltas. A zero delta has no direction: its cosine
 * with any delta is 0 (as mergekit's clamped norm gives), so a tensor tuned by few ingredients
 * leans toward the base. A mean cosine <= 0 (deltas that disagree, or all zero) gives t = 0, the
 * base: the formula's derivation assumes a positive angle cosine. One ingredient gives t = 1.
 */
export function modelStockRatio(meanCos: number, n: number): number {
  if (n === 1) return 1;
  const c = Math.min(1, meanCos);
  if (!(c > 0)) return 0;
  return (n * c) / (1 + (n - 1) * c);
}

/**
 * Model Stock, per tensor (layer-wise as the paper; mergekit's default): t * m + (1 - t) * b with
 * m the uniform mean of the ingredients and t = modelStockRatio(mean pairwise cosine of their
 * deltas). One pass: the sum of pairwise cosines is (|sum_i u_i|^2 - #non-zero) / 2 for the unit
 * deltas u_i = d_i / |d_i|, so no pair needs both deltas at once.
 */
export function* modelStockTensors(readers: readonly RawTensorReader[], base: RawTensorReader, names: readonly string[], opts: MergeOptions = {}): Generator<MergedTensor> {
  yield* streamMerge(readers, base, names, opts, (src) => {
    const n = src.numel;
    const units = src.buf.f64("units", n).fill(0);
    const b = src.base!;
    let nonZero = 0;
    const { sum, changedBy } = sumOfIngredients(src, (_i, changed, x) => {
      if (!changed) return;
      let sq = 0;
      for (let j = 0; j < n; j++) {
        const d = x[j] - b[j];
        sq += d * d;
      }
      if (sq === 0) return; // bytes differ only in the sign of a zero: no direction
      nonZero++;
      const inv = 1 / Math.sqrt(sq);
      for (let j = 0; j < n; j++) units[j] += (x[j] - b[j]) * inv;
    });
    if (changedBy === 0) return { result: baseCopy(src), changedBy, t: null };
    const k = src.k;
    let uu = 0;
    for (let j = 0; j < n; j++) uu += units[j] * units[j];
    const meanCos = k > 1 ? (uu - nonZero) / 2 / ((k * (k - 1)) / 2) : 1;
    const t = modelStockRatio(meanCos, k);
    for (let j = 0; j < n; j++) sum[j] = t * (sum[j] / k) + (1 - t) * b[j];
    return { result: { kind: "values", values: sum }, changedBy, t };
  });
}

/** The tensors of `spec`'s soup of `readers`, for each of `names` in that order (uniform ignores the base). */
export function mergeTensors(spec: MergeSpec, readers: readonly RawTensorReader[], base: RawTensorReader | null, names: readonly string[], opts: MergeOptions = {}): Generator<SoupTensor & Partial<MergedTensor>> {
  validateMergeSpec(spec);
  if (spec.method === "uniform") return averageTensors(readers, names, opts);
  if (!base) throw new PftError("argument", `the ${spec.method} soup works on deltas from the pretrained weights: pass them with --base`);
  switch (spec.method) {
    case "changed-mean":
      return changedMeanTensors(readers, base, names, opts);
    case "task-arithmetic":
      return taskArithmeticTensors(readers, base, names, spec.lambda, opts);
    case "ties":
      return tiesTensors(readers, base, names, spec.density, spec.lambda ?? 1, opts);
    case "wise-ft":
      return wiseFtTensors(readers, base, names, spec.alpha, opts);
    case "model-stock":
      return modelStockTensors(readers, base, names, opts);
  }
}

// ---------------------------------------------------------------------------------------------- writing

/** What a merge found: the uniform soup's summary, plus per-tensor facts of the delta methods. */
export interface MergeSummary extends AverageSummary {
  /** Tensors the base lacks or holds with another shape or dtype: the ingredients' uniform mean. */
  unbased: string[];
  /** model-stock: each merged tensor's ratio t. */
  ratios: Record<string, number>;
}

/**
 * Writes `spec`'s soup of `members` (indices into `set`, default all) to `out` as safetensors,
 * streaming and atomic (nothing at `out` unless it completes). `base` is the pretrained weights.
 */
export function writeMerge(
  set: IngredientSet,
  base: RawTensorReader | null,
  out: string,
  spec: MergeSpec,
  opts: MergeOptions & { members?: readonly number[]; metadata?: Readonly<Record<string, string>> } = {},
): MergeSummary {
  const idx = opts.members ?? set.items.map((_, i) => i);
  if (idx.length === 0) throw new PftError("argument", "a soup needs at least one ingredient");
  const readers = idx.map((i) => {
    const it = set.items[i];
    if (!it) throw new PftError("argument", `no ingredient #${i} (there are ${set.items.length})`);
    return it.reader;
  });
  const entries = [...readers[0].entries].map(([name, e]) => ({ name, dtype: e.dtype, shape: e.shape }));
  using w = SafetensorsStreamWriter.create(out, entries, opts.metadata);
  const s: MergeSummary = { differing: [], shared: 0, differingNumel: 0, sharedNumel: 0, unbased: [], ratios: {} };
  for (const t of mergeTensors(spec, readers, base, w.order.map((e) => e.name), opts)) {
    w.write(t.name, t.bytes());
    const numel = numelOf(t.entry);
    if (t.shared) {
      s.shared++;
      s.sharedNumel += numel;
    } else {
      s.differing.push(t.name);
      s.differingNumel += numel;
    }
    if (t.changedBy === -1 && isFloatingDType(t.entry.dtype)) s.unbased.push(t.name);
    if (typeof t.t === "number") s.ratios[t.name] = t.t;
  }
  w.commit();
  s.differing.sort(naturalCompare);
  s.unbased.sort(naturalCompare);
  return s;
}

/** One soup of soupAll: its method, parameters, file and summary. */
export interface SoupAllEntry {
  spec: MergeSpec;
  file: string;
  summary: MergeSummary;
}

/** A file name for a spec's soup: "ties-d0.2", "task-arithmetic-l0.5", "wise-ft-a0.5", "model-stock". */
export function soupFileName(spec: MergeSpec): string {
  switch (spec.method) {
    case "task-arithmetic":
      return `${spec.method}-l${spec.lambda}`;
    case "ties":
      return `${spec.method}-d${spec.density}${spec.lambda === undefined ? "" : `-l${spec.lambda}`}`;
    case "wise-ft":
      return `${spec.method}-a${spec.alpha}`;
    default:
      return spec.method;
  }
}

/**
 * Every soup of `specs` from the same ingredients and base, written to `dir` (soupFileName +
 * ".safetensors"), for a comparison such as the study's Table 3 (which evaluates each file, and
 * the logit ensemble of the same members with evaluateEnsemble). Greedy is not here: it needs
 * validation accuracy (greedySelect, then the uniform soup of its pick). Check the base first
 * with checkDescent.
 */
export function soupAll(specs: readonly MergeSpec[], set: IngredientSet, base: RawTensorReader | null, dir: string, opts: { members?: readonly number[]; metadata?: Readonly<Record<string, string>> } = {}): SoupAllEntry[] {
  specs.forEach(validateMergeSpec);
  return specs.map((spec) => {
    const file = join(dir, `${soupFileName(spec)}.safetensors`);
    return { spec, file, summary: writeMerge(set, base, file, spec, opts) };
  });
}
