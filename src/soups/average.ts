// Streaming weight averaging: tensor by tensor over all ingredients, so a soup of paper-sized
// checkpoints holds the running sum and one ingredient's tensor, never a whole checkpoint.
//
// Per tensor name: read the first ingredient's bytes, then each other ingredient's into one
// reused buffer. While every ingredient so far holds exactly the same bytes (a frozen parameter
// of partial fine-tunes of one pretrained model), nothing is summed and the first's bytes are the
// soup's value, copied once. At the first difference a float64 running sum starts (k identical
// values so far: k * first, exact) and every later ingredient is added to it; the mean is the sum
// divided by the count, rounded once to the checkpoint's dtype. A uniform soup of identical
// checkpoints is therefore the checkpoint, bit for bit, and the mean of float32 tensors is the
// correctly rounded float64 mean.
//
// float32 and float64 are summed in JavaScript straight from the file bytes, in buffers reused
// from tensor to tensor (sized to the largest tensor): no per-tensor allocation, no libtorch.
// bfloat16/float16 go through libtorch to widen and to round back (one tensor at a time).
import { endianness } from "node:os";
import { Tensor, isFloatingDType, noGrad } from "../engine/index.js";
import { PftError } from "../errors.js";
import { naturalCompare, type VisionModel } from "../models/index.js";
import type { SafetensorsEntry } from "../nn/index.js";
import type { IngredientSet } from "./ingredients.js";
import { SafetensorsStreamWriter, type RawTensorReader } from "./stream.js";

/** One tensor of a soup, valid until the generator moves on (do not keep or dispose what it gives). */
export interface SoupTensor {
  readonly name: string;
  readonly entry: SafetensorsEntry;
  /** True when every ingredient holds the same bytes: the value is the first's, copied once. */
  readonly shared: boolean;
  /** The value's bytes in the checkpoint's dtype. */
  bytes(): Uint8Array;
  /** The value as a native tensor in the checkpoint's dtype. */
  tensor(): Tensor;
}

/** Called after each ingredient's tensor is read (and added), while it is still held: for progress and tests. */
export type SoupObserver = (e: { name: string; ingredient: number }) => void;

export interface AverageOptions {
  observe?: SoupObserver;
}

const NATIVE_ORDER = endianness() === "LE";

/** Buffers reused from tensor to tensor, grown to the largest tensor seen. */
class Scratch {
  first = new ArrayBuffer(0);
  other = new ArrayBuffer(0);
  sum = new Float64Array(0);
  out = new ArrayBuffer(0);
  bytes(which: "first" | "other" | "out", n: number): Uint8Array {
    if (this[which].byteLength < n) this[which] = new ArrayBuffer(n);
    return new Uint8Array(this[which], 0, n);
  }
  sumOf(n: number): Float64Array {
    if (this.sum.length < n) this.sum = new Float64Array(n);
    return this.sum.subarray(0, n);
  }
}

/** The uniform average of `readers`, one tensor at a time, for each of `names` in that order. */
export function* averageTensors(readers: readonly RawTensorReader[], names: readonly string[], opts: AverageOptions = {}): Generator<SoupTensor> {
  if (readers.length === 0) throw new PftError("argument", "averaging needs at least one checkpoint");
  const n = readers.length;
  const buf = new Scratch();
  for (const name of names) {
    const entry = readers[0].entry(name);
    const first = readers[0].readInto(name, buf.bytes("first", entry.byteLength));
    opts.observe?.({ name, ingredient: 0 });
    const numel = entry.shape.reduce((a, b) => a * b, 1);
    let sum: Float64Array | null = null;
    let identical = 1;
    for (let i = 1; i < n; i++) {
      const entryI = readers[i].entry(name);
      if (entryI.dtype !== entry.dtype || entryI.byteLength !== entry.byteLength) {
        throw new PftError("checkpoint", `tensor '${name}' is ${entryI.dtype} [${entryI.shape.join(", ")}] in ${readers[i].path} but ${entry.dtype} [${entry.shape.join(", ")}] in ${readers[0].path}`);
      }
      const bytes = readers[i].readInto(name, buf.bytes("other", entry.byteLength));
      if (sum === null) {
        if (Buffer.compare(first, bytes) === 0) {
          identical++;
          opts.observe?.({ name, ingredient: i });
          continue;
        }
        if (!isFloatingDType(entry.dtype)) {
          throw new PftError("checkpoint", `tensor '${name}' (${entry.dtype}) differs between ${readers[0].path} and ${readers[i].path}: only floating-point tensors can be averaged`);
        }
        sum = buf.sumOf(numel);
        startSum(sum, first, entry, identical);
      }
      addTo(sum, bytes, entry, 1);
      opts.observe?.({ name, ingredient: i });
    }
    const t = soupTensor(name, entry, sum === null, sum === null ? first : mean(sum, n, entry, buf));
    try {
      yield t.value;
    } finally {
      t.release();
    }
  }
}

export function soupTensor(name: string, entry: SafetensorsEntry, shared: boolean, bytes: Uint8Array): { value: SoupTensor; release: () => void } {
  let own: Tensor | null = null; // made on demand, freed when the generator moves on
  return {
    value: { name, entry, shared, bytes: () => bytes, tensor: () => (own ??= Tensor.fromBytes(bytes, entry.shape, entry.dtype)) },
    release: () => own?.dispose(),
  };
}

const isJsFloat = (e: SafetensorsEntry): boolean => NATIVE_ORDER && (e.dtype === "float32" || e.dtype === "float64");
const jsView = (bytes: Uint8Array, e: SafetensorsEntry, n: number): Float32Array | Float64Array =>
  e.dtype === "float32" ? new Float32Array(bytes.buffer, bytes.byteOffset, n) : new Float64Array(bytes.buffer, bytes.byteOffset, n);

/** sum = count * values (exact: a float64 holds k * x for any float32/bf16/f16 x and small k). */
function startSum(sum: Float64Array, bytes: Uint8Array, entry: SafetensorsEntry, count: number): void {
  if (isJsFloat(entry)) {
    sum.set(jsView(bytes, entry, sum.length));
    if (count > 1) for (let j = 0, n = sum.length; j < n; j++) sum[j] *= count;
    return;
  }
  sum.fill(0);
  addTo(sum, bytes, entry, count);
}

/** sum += count * values (the values as stored in `bytes`, in the entry's dtype). */
function addTo(sum: Float64Array, bytes: Uint8Array, entry: SafetensorsEntry, count: number): void {
  const n = sum.length;
  if (isJsFloat(entry)) {
    const v = jsView(bytes, entry, n);
    if (count === 1) for (let j = 0; j < n; j++) sum[j] += v[j];
    else for (let j = 0; j < n; j++) sum[j] += count * v[j];
    return;
  }
  // Half precision (or a big-endian host): libtorch widens exactly to float64.
  withWidened(bytes, entry, (v) => {
    for (let j = 0; j < n; j++) sum[j] += count * v[j];
  });
}

/** fn over the stored values widened to float64 by libtorch (exact for every floating dtype; the view lives only during fn): for what JS cannot view directly. */
export function withWidened<T>(bytes: Uint8Array, entry: SafetensorsEntry, fn: (values: Float64Array) => T): T {
  const t = Tensor.fromBytes(bytes, entry.shape, entry.dtype);
  try {
    const w = t.to("float64");
    try {
      return fn(w.data() as Float64Array);
    } finally {
      w.dispose();
    }
  } finally {
    t.dispose();
  }
}

/** float64 values rounded once to the entry's dtype by libtorch, as new bytes: for what JS cannot write directly. */
export function narrowWithTorch(values: Float64Array, entry: SafetensorsEntry): Uint8Array {
  const t = Tensor.from(values, entry.shape, { dtype: "float64" });
  try {
    const r = t.to(entry.dtype);
    try {
      return r.bytes();
    } finally {
      r.dispose();
    }
  } finally {
    t.dispose();
  }
}

/** sum / count (float64), rounded once to the entry's dtype, as bytes (in a reused buffer for float32/float64). */
function mean(sum: Float64Array, count: number, entry: SafetensorsEntry, buf: Scratch): Uint8Array {
  const n = sum.length;
  if (isJsFloat(entry) && entry.dtype === "float32") {
    const out = buf.bytes("out", n * 4);
    const f = new Float32Array(out.buffer, 0, n);
    for (let j = 0; j < n; j++) f[j] = sum[j] / count; // the float64 quotient, rounded to nearest float32
    return out;
  }
  for (let j = 0; j < n; j++) sum[j] /= count;
  if (isJsFloat(entry)) return new Uint8Array(sum.buffer, sum.byteOffset, n * 8);
  return narrowWithTorch(sum, entry);
}

/** What averaging found: which tensors differed between ingredients and which were shared. */
export interface AverageSummary {
  /** Tensor names whose values differ between ingredients (averaged), in natural key order. */
  differing: string[];
  /** How many tensors were identical in every ingredient (copied once). */
  shared: number;
  /** Scalars in differing / shared tensors. */
  differingNumel: number;
  sharedNumel: number;
}

function summarize(out: AverageSummary, t: SoupTensor): void {
  const numel = t.entry.shape.reduce((a, b) => a * b, 1);
  if (t.shared) {
    out.shared++;
    out.sharedNumel += numel;
  } else {
    out.differing.push(t.name);
    out.differingNumel += numel;
  }
}

const emptySummary = (): AverageSummary => ({ differing: [], shared: 0, differingNumel: 0, sharedNumel: 0 });

/**
 * Writes the uniform average of `members` (indices into `set`, default all) to `out` as safetensors:
 * streaming (header from the first ingredient's entries, then one tensor at a time) and atomic.
 */
export function writeAverage(
  set: IngredientSet,
  out: string,
  opts: AverageOptions & { members?: readonly number[]; metadata?: Readonly<Record<string, string>> } = {},
): AverageSummary {
  const readers = membersOf(set, opts.members);
  const entries = [...readers[0].entries].map(([name, e]) => ({ name, dtype: e.dtype, shape: e.shape }));
  using w = SafetensorsStreamWriter.create(out, entries, opts.metadata);
  const summary = emptySummary();
  for (const t of averageTensors(readers, w.order.map((e) => e.name), opts)) {
    w.write(t.name, t.bytes());
    summarize(summary, t);
  }
  w.commit();
  summary.differing.sort(naturalCompare);
  return summary;
}

/**
 * Loads the uniform average of `members` (default all) into `model`'s parameters and buffers in
 * place, one tensor at a time. The ingredients must hold exactly the model's state-dict keys and shapes.
 */
export function loadAverage(model: VisionModel, set: IngredientSet, opts: AverageOptions & { members?: readonly number[] } = {}): AverageSummary {
  const readers = membersOf(set, opts.members);
  const own = model.stateDict();
  const file = readers[0];
  for (const [k, dst] of own) {
    const e = file.entries.get(k);
    if (!e) throw new PftError("checkpoint", `${file.path} lacks '${k}', which the ${model.constructor.name} has`);
    if (e.shape.length !== dst.shape.length || e.shape.some((d, i) => d !== dst.shape[i])) {
      throw new PftError("checkpoint", `${file.path}: '${k}' has shape [${e.shape.join(", ")}] but the model's is [${dst.shape.join(", ")}]`);
    }
  }
  const unexpected = [...file.entries.keys()].find((k) => !own.has(k));
  if (unexpected !== undefined) throw new PftError("checkpoint", `${file.path} has '${unexpected}', which the ${model.constructor.name} does not`);
  const summary = emptySummary();
  noGrad(() => {
    for (const t of averageTensors(readers, [...own.keys()], opts)) {
      own.get(t.name)!.copy_(t.tensor());
      summarize(summary, t);
    }
  });
  summary.differing.sort(naturalCompare);
  return summary;
}

function membersOf(set: IngredientSet, members: readonly number[] | undefined): RawTensorReader[] {
  const idx = members ?? set.items.map((_, i) => i);
  if (idx.length === 0) throw new PftError("argument", "a soup needs at least one ingredient");
  return idx.map((i) => {
    const item = set.items[i];
    if (!item) throw new PftError("argument", `no ingredient #${i} (there are ${set.items.length})`);
    return item.reader;
  });
}
