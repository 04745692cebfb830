// The typed Tensor API over the native addon.
//
// A Tensor owns one native handle. Ops return new Tensors (owned by the open scope, if any);
// in-place ops end in `_` and return `this`. Errors from libtorch surface as PftError("engine")
// with the op name and libtorch's one-line reason; using a disposed tensor is PftError("disposed").
import { PftError } from "../errors.js";
import { native, type DType, type Device, type Handle, type NativeFunction, type NativeModule, type Scalar, type TypedData } from "./native.js";
import { adopt, moveTo, type Owned } from "./scope.js";

export type { DType, Device, Scalar, TypedData };
export type Shape = readonly number[];

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

const FLOATING: ReadonlySet<DType> = new Set(["float32", "float64", "bfloat16", "float16"]);
export const isFloatingDType = (d: DType): boolean => FLOATING.has(d);

type Args<K extends NativeFunction> = Parameters<NativeModule[K]>;
type Result<K extends NativeFunction> = ReturnType<NativeModule[K]>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Names of the addon functions taking exactly the arguments P and returning R. */
type FunctionsOf<P extends unknown[], R> = {
  [K in NativeFunction]: Same<Args<K>, P> extends true ? (Result<K> extends R ? K : never) : never;
}[NativeFunction];
type UnaryFunction = FunctionsOf<[x: Handle], Handle>;
type BinaryFunction = FunctionsOf<[a: Handle, b: Handle | Scalar], Handle>;

/** Calls an addon function, mapping its errors to PftError("engine") / PftError("disposed"). */
function call<K extends NativeFunction>(fn: K, ...args: Args<K>): Result<K>;
function call(fn: NativeFunction, ...args: unknown[]): unknown {
  try {
    return (native[fn] as (...a: unknown[]) => unknown)(...args);
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    if (msg.includes("used after dispose")) throw new PftError("disposed", `${fn}: tensor used after dispose()`);
    throw new PftError("engine", msg.startsWith(fn) ? msg : `${fn}: ${msg}`);
  }
}

function checkShape(shape: Shape, what: string): number[] {
  const out = Array.from(shape);
  for (const d of out) {
    if (!Number.isInteger(d) || d < 0) throw new PftError("shape", `${what}: invalid shape [${out.join(", ")}]`);
  }
  return out;
}

const numelOf = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

function typedFor(dtype: DType, data: ArrayLike<number> | ArrayLike<bigint>): TypedData {
  const arr = data as ArrayLike<number>;
  switch (dtype) {
    case "float32":
    case "bfloat16":
    case "float16":
      return data instanceof Float32Array ? data : Float32Array.from(arr, Number);
    case "float64":
      return data instanceof Float64Array ? data : Float64Array.from(arr, Number);
    case "int64":
      return data instanceof BigInt64Array ? data : BigInt64Array.from(arr, (v) => BigInt(Math.trunc(Number(v))));
    case "int32":
      return data instanceof Int32Array ? data : Int32Array.from(arr, Number);
    case "int16":
      return data instanceof Int16Array ? data : Int16Array.from(arr, Number);
    case "int8":
      return data instanceof Int8Array ? data : Int8Array.from(arr, Number);
    case "uint8":
    case "bool":
      return data instanceof Uint8Array ? data : Uint8Array.from(arr, (v) => (dtype === "bool" ? (v ? 1 : 0) : Number(v)));
  }
}

export class Tensor implements Owned, Disposable {
  #h: Handle | null;
  /** @internal the scope that owns this tensor (see scope.ts) */
  _scope: Set<Owned> | null;

  private constructor(h: Handle) {
    this.#h = h;
    this._scope = adopt(this);
    if (!this._scope) native.account(h);
  }

  /** @internal Out of every scope: V8 is told of the native bytes so its GC can weigh them. */
  _unscoped(): void {
    if (this.#h) native.account(this.#h);
  }

  /** Takes ownership of a native handle returned by the addon. */
  static own(h: Handle): Tensor {
    return new Tensor(h);
  }

  /** The native handle, for the engine's own wrappers. Throws if disposed. */
  get handle(): Handle {
    if (this.#h === null) throw new PftError("disposed", "tensor used after dispose()");
    return this.#h;
  }

  // ---------------------------------------------------------------- creation

  /** A tensor holding a copy of `data`, read in row-major order. */
  static from(data: ArrayLike<number> | ArrayLike<bigint>, shape?: Shape, opts: TensorOptions = {}): Tensor {
    const dtype = opts.dtype ?? (data instanceof Float64Array ? "float64" : data instanceof BigInt64Array ? "int64" : "float32");
    const dims = checkShape(shape ?? [data.length], "Tensor.from");
    if (numelOf(dims) !== data.length) {
      throw new PftError("shape", `Tensor.from: ${data.length} values do not fill shape [${dims.join(", ")}]`);
    }
    const storeAs: DType = dtype === "bfloat16" || dtype === "float16" ? "float32" : dtype;
    let t = Tensor.own(call("fromBuffer", typedFor(dtype, data), dims, storeAs));
    if (storeAs !== dtype) t = t.to(dtype);
    if (opts.device && opts.device !== "cpu") t = t.to(opts.device);
    if (opts.requiresGrad) t.requiresGrad_(true);
    return t;
  }

  /** A 0-d tensor. */
  static scalar(v: number, opts: TensorOptions = {}): Tensor {
    return Tensor.full([], v, opts);
  }

  static full(shape: Shape, value: Scalar, opts: TensorOptions = {}): Tensor {
    const t = Tensor.own(call("full", checkShape(shape, "full"), value, opts.dtype ?? "float32", opts.device ?? "cpu"));
    return opts.requiresGrad ? t.requiresGrad_(true) : t;
  }
  static zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 0, opts);
  }
  static ones(shape: Shape, opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 1, opts);
  }
  static empty(shape: Shape, opts: TensorOptions = {}): Tensor {
    const t = Tensor.own(call("empty", checkShape(shape, "empty"), opts.dtype ?? "float32", opts.device ?? "cpu"));
    return opts.requiresGrad ? t.requiresGrad_(true) : t;
  }
  /** Standard normal samples from the global generator (see manualSeed). */
  static randn(shape: Shape, opts: TensorOptions = {}): Tensor {
    const t = Tensor.own(call("randn", checkShape(shape, "randn"), opts.dtype ?? "float32", opts.device ?? "cpu"));
    return opts.requiresGrad ? t.requiresGrad_(true) : t;
  }
  /** Uniform samples in [0, 1). */
  static rand(shape: Shape, opts: TensorOptions = {}): Tensor {
    const t = Tensor.own(call("rand", checkShape(shape, "rand"), opts.dtype ?? "float32", opts.device ?? "cpu"));
    return opts.requiresGrad ? t.requiresGrad_(true) : t;
  }
  /** Integers in [low, high). */
  static randint(low: number, high: number, shape: Shape, opts: TensorOptions = {}): Tensor {
    return Tensor.own(call("randint", low, high, checkShape(shape, "randint"), opts.dtype ?? "int64", opts.device ?? "cpu"));
  }
  static randperm(n: number, opts: TensorOptions = {}): Tensor {
    return Tensor.own(call("randperm", n, opts.dtype ?? "int64", opts.device ?? "cpu"));
  }
  static arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
    const [s, e] = end === undefined ? [0, start] : [start, end];
    const integral = Number.isInteger(s) && Number.isInteger(e) && Number.isInteger(step);
    return Tensor.own(call("arange", s, e, step, opts.dtype ?? (integral ? "int64" : "float32"), opts.device ?? "cpu"));
  }
  static eye(n: number, opts: TensorOptions = {}): Tensor {
    return Tensor.own(call("eye", n, opts.dtype ?? "float32", opts.device ?? "cpu"));
  }
  static linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
    return Tensor.own(call("linspace", start, end, steps, opts.dtype ?? "float32", opts.device ?? "cpu"));
  }

  // ---------------------------------------------------------------- metadata and data out

  get shape(): number[] {
    return call("shape", this.handle);
  }
  get dtype(): DType {
    return call("dtype", this.handle);
  }
  get device(): Device {
    return call("device", this.handle);
  }
  get ndim(): number {
    return this.shape.length;
  }
  numel(): number {
    return call("numel", this.handle);
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new PftError("shape", `size: dimension ${dim} out of range for a ${s.length}-d tensor`);
    return s[d];
  }
  isContiguous(): boolean {
    return call("isContiguous", this.handle);
  }
  get isDisposed(): boolean {
    return this.#h === null;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    const v = call("item", this.handle);
    return typeof v === "boolean" ? Number(v) : v;
  }

  /** A copy of the values: Float32Array for float32/bfloat16/float16, Float64Array, BigInt64Array, ... */
  data(): TypedData {
    const dt = this.dtype;
    if (dt === "bfloat16" || dt === "float16") {
      const f = this.to("float32");
      try {
        return f.data();
      } finally {
        f.dispose();
      }
    }
    const buf = call("toBuffer", this.handle);
    switch (dt) {
      case "float32":
        return new Float32Array(buf);
      case "float64":
        return new Float64Array(buf);
      case "int64":
        return new BigInt64Array(buf);
      case "int32":
        return new Int32Array(buf);
      case "int16":
        return new Int16Array(buf);
      case "int8":
        return new Int8Array(buf);
      default:
        return new Uint8Array(buf);
    }
  }
  /** Values as plain numbers (int64 converted with Number()). */
  toArray(): number[] {
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d as ArrayLike<number>);
  }
  /** Raw bytes of the contiguous values in this tensor's own dtype (bf16 stays 2 bytes/element). */
  bytes(): Uint8Array {
    return new Uint8Array(call("toBuffer", this.handle));
  }
  /** A tensor made from raw little-endian bytes of the given dtype (the inverse of bytes()). */
  static fromBytes(bytes: Uint8Array, shape: Shape, dtype: DType): Tensor {
    const dims = checkShape(shape, "fromBytes");
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Tensor.own(call("fromBuffer", view, dims, dtype));
  }

  toString(): string {
    if (this.#h === null) return "Tensor(disposed)";
    return `Tensor(shape=[${this.shape.join(", ")}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---------------------------------------------------------------- ownership

  /** Frees the native tensor now. Later use throws PftError("disposed"). Safe to call twice. */
  dispose(): void {
    if (this.#h === null) return;
    native.dispose(this.#h);
    this.#h = null;
    moveTo(this, null);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** Takes this tensor out of the open scope: the caller now owns it. */
  keep(): this {
    moveTo(this, null);
    return this;
  }
  /** A second handle to the same tensor (same storage, same autograd identity). */
  alias(): Tensor {
    return Tensor.own(call("alias", this.handle));
  }
  sharesStorageWith(other: Tensor): boolean {
    return call("sameStorage", this.handle, other.handle);
  }

  // ---------------------------------------------------------------- conversion

  to(dtypeOrDevice: DType | Device, opts: { copy?: boolean } = {}): Tensor {
    const copy = opts.copy ?? false;
    if (isDevice(dtypeOrDevice)) return Tensor.own(call("to", this.handle, null, dtypeOrDevice, copy));
    return Tensor.own(call("to", this.handle, dtypeOrDevice, null, copy));
  }
  float(): Tensor {
    return this.to("float32");
  }
  double(): Tensor {
    return this.to("float64");
  }
  long(): Tensor {
    return this.to("int64");
  }
  contiguous(): Tensor {
    return Tensor.own(call("contiguous", this.handle));
  }
  clone(): Tensor {
    return Tensor.own(call("clone", this.handle));
  }
  detach(): Tensor {
    return Tensor.own(call("detach", this.handle));
  }

  // ---------------------------------------------------------------- elementwise

  neg(): Tensor { return this.unary("neg"); }
  abs(): Tensor { return this.unary("abs"); }
  exp(): Tensor { return this.unary("exp"); }
  log(): Tensor { return this.unary("log"); }
  log1p(): Tensor { return this.unary("log1p"); }
  sqrt(): Tensor { return this.unary("sqrt"); }
  rsqrt(): Tensor { return this.unary("rsqrt"); }
  square(): Tensor { return this.unary("square"); }
  tanh(): Tensor { return this.unary("tanh"); }
  sigmoid(): Tensor { return this.unary("sigmoid"); }
  relu(): Tensor { return this.unary("relu"); }
  silu(): Tensor { return this.unary("silu"); }
  sin(): Tensor { return this.unary("sin"); }
  cos(): Tensor { return this.unary("cos"); }
  reciprocal(): Tensor { return this.unary("reciprocal"); }
  sign(): Tensor { return this.unary("sign"); }
  floor(): Tensor { return this.unary("floor"); }
  ceil(): Tensor { return this.unary("ceil"); }
  round(): Tensor { return this.unary("round"); }
  erf(): Tensor { return this.unary("erf"); }
  erfinv(): Tensor { return this.unary("erfinv"); }
  isnan(): Tensor { return this.unary("isnan"); }
  isfinite(): Tensor { return this.unary("isfinite"); }
  logicalNot(): Tensor { return this.unary("logicalNot"); }
  /** GELU; `approximate: "tanh"` for the tanh form. */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    return Tensor.own(call("gelu", this.handle, approximate));
  }

  add(other: Tensor | number, alpha?: number): Tensor {
    return Tensor.own(call("add", this.handle, operand(other), alpha));
  }
  sub(other: Tensor | number, alpha?: number): Tensor {
    return Tensor.own(call("sub", this.handle, operand(other), alpha));
  }
  /** s - this */
  rsub(s: number): Tensor {
    return Tensor.own(call("rsub", this.handle, s));
  }
  mul(other: Tensor | number): Tensor { return this.binary("mul", other); }
  div(other: Tensor | number): Tensor { return this.binary("div", other); }
  pow(other: Tensor | number): Tensor { return this.binary("pow", other); }
  remainder(other: Tensor | number): Tensor { return this.binary("remainder", other); }
  eq(other: Tensor | number): Tensor { return this.binary("eq", other); }
  ne(other: Tensor | number): Tensor { return this.binary("ne", other); }
  lt(other: Tensor | number): Tensor { return this.binary("lt", other); }
  le(other: Tensor | number): Tensor { return this.binary("le", other); }
  gt(other: Tensor | number): Tensor { return this.binary("gt", other); }
  ge(other: Tensor | number): Tensor { return this.binary("ge", other); }
  maximum(other: Tensor): Tensor { return Tensor.own(call("maximum", this.handle, other.handle)); }
  minimum(other: Tensor): Tensor { return Tensor.own(call("minimum", this.handle, other.handle)); }
  logicalAnd(other: Tensor): Tensor { return Tensor.own(call("logicalAnd", this.handle, other.handle)); }
  logicalOr(other: Tensor): Tensor { return Tensor.own(call("logicalOr", this.handle, other.handle)); }
  clamp(min: number | null, max: number | null = null): Tensor {
    return Tensor.own(call("clamp", this.handle, min, max));
  }
  maskedFill(mask: Tensor, value: Tensor | number): Tensor {
    return Tensor.own(call("maskedFill", this.handle, mask.handle, operand(value)));
  }
  lerp(end: Tensor, weight: Tensor | number): Tensor {
    return Tensor.own(call("lerp", this.handle, end.handle, operand(weight)));
  }
  /** |this - other| <= atol + rtol * |other| everywhere. */
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8, equalNan = false): boolean {
    return call("allclose", this.handle, other.handle, rtol, atol, equalNan);
  }
  /** Same shape and exactly the same values. */
  equal(other: Tensor): boolean {
    return call("equal", this.handle, other.handle);
  }

  // ---------------------------------------------------------------- in place (return this)

  add_(other: Tensor | number, alpha?: number): this { call("add_", this.handle, operand(other), alpha); return this; }
  sub_(other: Tensor | number, alpha?: number): this { call("sub_", this.handle, operand(other), alpha); return this; }
  mul_(other: Tensor | number): this { call("mul_", this.handle, operand(other)); return this; }
  div_(other: Tensor | number): this { call("div_", this.handle, operand(other)); return this; }
  /** this += value * a * b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this { call("addcmul_", this.handle, a.handle, b.handle, value); return this; }
  /** this += value * a / b */
  addcdiv_(a: Tensor, b: Tensor, value = 1): this { call("addcdiv_", this.handle, a.handle, b.handle, value); return this; }
  lerp_(end: Tensor, weight: Tensor | number): this { call("lerp_", this.handle, end.handle, operand(weight)); return this; }
  clamp_(min: number | null, max: number | null = null): this { call("clamp_", this.handle, min, max); return this; }
  copy_(src: Tensor): this { call("copy_", this.handle, src.handle); return this; }
  fill_(value: Scalar): this { call("fill_", this.handle, value); return this; }
  zero_(): this { call("zero_", this.handle); return this; }
  sqrt_(): this { call("sqrt_", this.handle); return this; }
  erfinv_(): this { call("erfinv_", this.handle); return this; }
  normal_(mean = 0, std = 1): this { call("normal_", this.handle, mean, std); return this; }
  uniform_(from = 0, to = 1): this { call("uniform_", this.handle, from, to); return this; }
  bernoulli_(p: number): this { call("bernoulli_", this.handle, p); return this; }
  maskedFill_(mask: Tensor, value: Tensor | number): this { call("maskedFill_", this.handle, mask.handle, operand(value)); return this; }
  /** this[indices] = values (accumulate adds instead). `null` entries select a whole dimension. */
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this {
    call("indexPut_", this.handle, indices.map((t) => (t ? t.handle : null)), values.handle, accumulate);
    return this;
  }

  // ---------------------------------------------------------------- reductions

  /** Sum over `dims` (all when omitted). */
  sum(dims?: number | number[], opts: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    return Tensor.own(call("sum", this.handle, dims ?? null, opts.keepdim ?? false, opts.dtype ?? null));
  }
  mean(dims?: number | number[], opts: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    return Tensor.own(call("mean", this.handle, dims ?? null, opts.keepdim ?? false, opts.dtype ?? null));
  }
  amax(dims?: number | number[], keepdim = false): Tensor {
    return Tensor.own(call("amax", this.handle, dims ?? null, keepdim));
  }
  amin(dims?: number | number[], keepdim = false): Tensor {
    return Tensor.own(call("amin", this.handle, dims ?? null, keepdim));
  }
  /** [values, indices] of the maximum along `dim`. */
  maxDim(dim: number, keepdim = false): [Tensor, Tensor] {
    const [v, i] = call("maxDim", this.handle, dim, keepdim);
    return [Tensor.own(v), Tensor.own(i)];
  }
  minDim(dim: number, keepdim = false): [Tensor, Tensor] {
    const [v, i] = call("minDim", this.handle, dim, keepdim);
    return [Tensor.own(v), Tensor.own(i)];
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return Tensor.own(call("argmax", this.handle, dim ?? null, keepdim));
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return Tensor.own(call("argmin", this.handle, dim ?? null, keepdim));
  }
  /** Variance with Bessel's correction by default (correction = 1), as torch.var. */
  var(dims?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return Tensor.own(call("var", this.handle, dims ?? null, opts.correction ?? 1, opts.keepdim ?? false));
  }
  std(dims?: number | number[], opts: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return Tensor.own(call("std", this.handle, dims ?? null, opts.correction ?? 1, opts.keepdim ?? false));
  }
  norm(p = 2, dims?: number | number[], keepdim = false): Tensor {
    return Tensor.own(call("norm", this.handle, p, dims ?? null, keepdim));
  }
  logsumexp(dims: number | number[], keepdim = false): Tensor {
    return Tensor.own(call("logsumexp", this.handle, dims, keepdim));
  }
  cumsum(dim: number): Tensor {
    return Tensor.own(call("cumsum", this.handle, dim));
  }
  all(): Tensor { return this.unary("all"); }
  any(): Tensor { return this.unary("any"); }
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    const [v, i] = call("topk", this.handle, k, dim, largest, sorted);
    return [Tensor.own(v), Tensor.own(i)];
  }
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    const [v, i] = call("sort", this.handle, dim, descending);
    return [Tensor.own(v), Tensor.own(i)];
  }

  // ---------------------------------------------------------------- shape and indexing

  reshape(shape: Shape): Tensor { return Tensor.own(call("reshape", this.handle, Array.from(shape))); }
  view(shape: Shape): Tensor { return Tensor.own(call("view", this.handle, Array.from(shape))); }
  permute(dims: number[]): Tensor { return Tensor.own(call("permute", this.handle, dims)); }
  transpose(d0: number, d1: number): Tensor { return Tensor.own(call("transpose", this.handle, d0, d1)); }
  /** Transpose of the last two dimensions. */
  mT(): Tensor { return this.transpose(-2, -1); }
  flatten(start = 0, end = -1): Tensor { return Tensor.own(call("flatten", this.handle, start, end)); }
  unsqueeze(dim: number): Tensor { return Tensor.own(call("unsqueeze", this.handle, dim)); }
  squeeze(dim?: number): Tensor { return Tensor.own(call("squeeze", this.handle, dim ?? null)); }
  expand(shape: Shape): Tensor { return Tensor.own(call("expand", this.handle, Array.from(shape))); }
  repeat(reps: number[]): Tensor { return Tensor.own(call("repeat", this.handle, reps)); }
  /** Pieces of `size` along dim (or of the given sizes). */
  split(size: number | number[], dim = 0): Tensor[] {
    return call("split", this.handle, size, dim).map(Tensor.own);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return call("chunk", this.handle, chunks, dim).map(Tensor.own);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return Tensor.own(call("narrow", this.handle, dim, start, length));
  }
  select(dim: number, index: number): Tensor { return Tensor.own(call("select", this.handle, dim, index)); }
  /** Python's x[..., start:end:step] along `dim`. */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return Tensor.own(call("slice", this.handle, dim, start ?? null, end ?? null, step));
  }
  indexSelect(dim: number, index: Tensor): Tensor { return Tensor.own(call("indexSelect", this.handle, dim, index.handle)); }
  gather(dim: number, index: Tensor): Tensor { return Tensor.own(call("gather", this.handle, dim, index.handle)); }
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    return Tensor.own(call("scatter", this.handle, dim, index.handle, operand(src)));
  }
  /** Advanced indexing, x[i0, i1, ...]; `null` keeps a dimension whole. */
  index(indices: (Tensor | null)[]): Tensor {
    return Tensor.own(call("index", this.handle, indices.map((t) => (t ? t.handle : null))));
  }
  roll(shifts: number | number[], dims: number | number[]): Tensor {
    return Tensor.own(call("roll", this.handle, shifts, dims));
  }
  flip(dims: number[]): Tensor { return Tensor.own(call("flip", this.handle, dims)); }
  /** Constant padding, torch.nn.functional.pad order: [lastLeft, lastRight, prevLeft, prevRight, ...]. */
  pad(pad: number[], value = 0): Tensor { return Tensor.own(call("pad", this.handle, pad, value)); }
  tril(diagonal = 0): Tensor { return Tensor.own(call("tril", this.handle, diagonal)); }
  triu(diagonal = 0): Tensor { return Tensor.own(call("triu", this.handle, diagonal)); }
  oneHot(numClasses: number): Tensor { return Tensor.own(call("oneHot", this.handle, numClasses)); }
  unfold(dim: number, size: number, step: number): Tensor {
    return Tensor.own(call("unfold", this.handle, dim, size, step));
  }

  // ---------------------------------------------------------------- linear algebra

  matmul(other: Tensor): Tensor { return Tensor.own(call("matmul", this.handle, other.handle)); }
  mm(other: Tensor): Tensor { return Tensor.own(call("mm", this.handle, other.handle)); }
  bmm(other: Tensor): Tensor { return Tensor.own(call("bmm", this.handle, other.handle)); }
  softmax(dim: number, dtype?: DType): Tensor { return Tensor.own(call("softmax", this.handle, dim, dtype ?? null)); }
  logSoftmax(dim: number, dtype?: DType): Tensor { return Tensor.own(call("logSoftmax", this.handle, dim, dtype ?? null)); }

  // ---------------------------------------------------------------- autograd

  get requiresGrad(): boolean {
    return call("requiresGrad", this.handle);
  }
  set requiresGrad(v: boolean) {
    call("setRequiresGrad", this.handle, v);
  }
  requiresGrad_(v = true): this {
    call("setRequiresGrad", this.handle, v);
    return this;
  }
  get isLeaf(): boolean {
    return call("isLeaf", this.handle);
  }
  /** The accumulated gradient (a new handle to it), or null when there is none. */
  get grad(): Tensor | null {
    const h = call("grad", this.handle);
    return h === null ? null : Tensor.own(h);
  }
  set grad(g: Tensor | null) {
    call("setGrad", this.handle, g ? g.handle : null);
  }
  /** Drops the gradient (set_to_none, as torch's zero_grad default). */
  zeroGrad(): void {
    call("setGrad", this.handle, null);
  }
  retainGrad(): this {
    call("retainGrad", this.handle);
    return this;
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    call("backward", this.handle, gradient ? gradient.handle : null, opts.retainGraph ?? false, opts.createGraph ?? false);
  }

  // ---------------------------------------------------------------- helpers

  private unary(fn: UnaryFunction): Tensor {
    return Tensor.own(call(fn, this.handle));
  }
  private binary(fn: BinaryFunction, other: Tensor | number): Tensor {
    return Tensor.own(call(fn, this.handle, operand(other)));
  }
}

function isDevice(v: DType | Device): v is Device {
  return v === "cpu" || v.startsWith("cuda");
}

function operand(v: Tensor | number | boolean): Handle | number | boolean {
  return typeof v === "number" || typeof v === "boolean" ? v : v.handle;
}

// ------------------------------------------------------------------ free functions

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return Tensor.own(call("cat", tensors.map((t) => t.handle), dim));
}
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return Tensor.own(call("stack", tensors.map((t) => t.handle), dim));
}
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  return Tensor.own(call("where", cond.handle, operand(a), operand(b)));
}
export function einsum(equation: string, operands: Tensor[]): Tensor {
  return Tensor.own(call("einsum", equation, operands.map((t) => t.handle)));
}

/** Internal: calls an addon function and maps its errors; for functional.ts and runtime.ts. */
export const callNative = call;

/** Number of native tensors currently alive (not disposed, not collected). */
export function liveTensors(): number {
  return call("liveTensors");
}

/**
 * Bytes of the native tensors whose lifetime the GC decides (made outside any scope, kept, or
 * returned out of the outermost scope), as reported to V8 so that its collector weighs them.
 */
export function gcOwnedBytes(): number {
  return call("gcOwnedBytes");
}
