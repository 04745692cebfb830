// Loads the compiled addon (build/Release/pft_native.node, built by node-gyp at `npm install`)
// and declares what it exports. Everything else in pft talks to libtorch through
// src/engine/tensor.ts, never through this object.
//
// `NativeModule` is the addon's surface, one entry per function that native/addon.cc registers
// with DEF() (argument order as there; `null` where the C++ side reads an absent argument).
// `NATIVE_FUNCTIONS` lists the same names at run time: the compiler holds the list and the
// interface equal, test/engine/native.test.ts holds the list and the addon's exports equal, and
// `load` refuses a stale build that lacks one.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PftError } from "../errors.js";

/** Opaque handle to a native tensor (an N-API External). */
export type Handle = object & { readonly __brand?: "pft-native-tensor" };

export type DType = "float32" | "float64" | "bfloat16" | "float16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";
export type Device = "cpu" | "cuda" | `cuda:${number}`;
export type Scalar = number | boolean;
export type Reduction = "mean" | "sum" | "none";
/** What fromBuffer copies from: a typed array whose element width matches the dtype's. */
export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A dimension list (the C++ side also takes a single integer). */
type Ints = number | readonly number[];
type Pair = readonly [number, number];
type Unary = (x: Handle) => Handle;
/** The second operand is a tensor or a JS number (integral numbers stay integer scalars). */
type Binary = (a: Handle, b: Handle | Scalar) => Handle;
type BinaryTensors = (a: Handle, b: Handle) => Handle;
type AddSub = (a: Handle, b: Handle | Scalar, alpha?: Scalar) => Handle;
type InPlaceArith = (a: Handle, b: Handle | Scalar, alpha?: Scalar) => void;
type Creation = (shape: Ints, dtype: DType, device: Device) => Handle;
type SumMean = (x: Handle, dims: Ints | null, keepdim: boolean, dtype: DType | null) => Handle;
type Extremum = (x: Handle, dims: Ints | null, keepdim: boolean) => Handle;
type ValuesIndices = (x: Handle, dim: number, keepdim: boolean) => [Handle, Handle];
type ArgExtremum = (x: Handle, dim: number | null, keepdim: boolean) => Handle;
type Moment = (x: Handle, dims: Ints | null, correction: number, keepdim: boolean) => Handle;
type Reshape = (x: Handle, dims: Ints) => Handle;
type Pool2d = (x: Handle, kernel: Pair, stride: Pair, padding: Pair) => Handle;
type Softmax = (x: Handle, dim: number, dtype: DType | null) => Handle;

/** runtimeInfo()'s raw facts; src/engine/runtime.ts turns them into EngineInfo. */
export interface NativeRuntimeInfo {
  /** at::show_config() (holds TORCH_VERSION=...). */
  config: string;
  blasLibrary: string;
  openblasConfig: string;
  /** -1 when the BLAS is not OpenBLAS. */
  blasThreads: number;
  /** openblas_get_parallel(): 0 sequential, 1 its own pthreads, 2 OpenMP; -1 unknown. */
  blasParallel: number;
  threads: number;
  mkldnn: boolean;
  cuda: boolean;
  cudaDevices: number;
  torchLibrary: string;
  mallocTuned: boolean;
  fusedAttention: boolean;
  fusedAttentionBf16: boolean;
  fusedGelu: boolean;
  onednnLinear: boolean;
  fusedLayerNorm: boolean;
  kernelThreads: number;
  cpuCache: { limitBytes: number; idleBytes: number; hits: number; misses: number };
}

export interface NativeModule {
  // handles, metadata, memory
  dispose: (t: Handle) => void;
  /** Reports t's bytes to V8 (once): its lifetime is now the GC's. */
  account: (t: Handle) => void;
  isDisposed: (t: Handle) => boolean;
  liveTensors: () => number;
  gcOwnedBytes: () => number;
  shape: (t: Handle) => number[];
  dtype: (t: Handle) => DType;
  device: (t: Handle) => Device;
  numel: (t: Handle) => number;
  isContiguous: (t: Handle) => boolean;
  sameStorage: (a: Handle, b: Handle) => boolean;
  item: (t: Handle) => number | boolean;

  // creation and conversion
  fromBuffer: (data: TypedData, shape: Ints, dtype: DType) => Handle;
  toBuffer: (t: Handle) => ArrayBuffer;
  full: (shape: Ints, value: Scalar, dtype: DType, device: Device) => Handle;
  empty: Creation;
  randn: Creation;
  rand: Creation;
  randint: (low: number, high: number, shape: Ints, dtype: DType, device: Device) => Handle;
  randperm: (n: number, dtype: DType, device: Device) => Handle;
  arange: (start: number, end: number, step: number, dtype: DType, device: Device) => Handle;
  eye: (n: number, dtype: DType, device: Device) => Handle;
  linspace: (start: number, end: number, steps: number, dtype: DType, device: Device) => Handle;
  to: (t: Handle, dtype: DType | null, device: Device | null, copy: boolean) => Handle;
  contiguous: Unary;
  clone: Unary;
  detach: Unary;
  alias: Unary;

  // elementwise
  neg: Unary;
  abs: Unary;
  exp: Unary;
  log: Unary;
  log1p: Unary;
  sqrt: Unary;
  rsqrt: Unary;
  square: Unary;
  tanh: Unary;
  sigmoid: Unary;
  relu: Unary;
  silu: Unary;
  sin: Unary;
  cos: Unary;
  reciprocal: Unary;
  sign: Unary;
  floor: Unary;
  ceil: Unary;
  round: Unary;
  erf: Unary;
  erfinv: Unary;
  isnan: Unary;
  isfinite: Unary;
  logicalNot: Unary;
  mul: Binary;
  div: Binary;
  pow: Binary;
  remainder: Binary;
  eq: Binary;
  ne: Binary;
  lt: Binary;
  le: Binary;
  gt: Binary;
  ge: Binary;
  add: AddSub;
  sub: AddSub;
  /** rsub(x, s) = s - x */
  rsub: (x: Handle, s: Scalar) => Handle;
  maximum: BinaryTensors;
  minimum: BinaryTensors;
  logicalAnd: BinaryTensors;
  logicalOr: BinaryTensors;
  clamp: (x: Handle, min: number | null, max: number | null) => Handle;
  where: (cond: Handle, a: Handle | Scalar, b: Handle | Scalar) => Handle;
  maskedFill: (x: Handle, mask: Handle, value: Handle | Scalar) => Handle;
  lerp: (a: Handle, end: Handle, weight: Handle | Scalar) => Handle;
  allclose: (a: Handle, b: Handle, rtol: number, atol: number, equalNan: boolean) => boolean;
  equal: (a: Handle, b: Handle) => boolean;

  // in place (return nothing: the JS side returns `this`)
  add_: InPlaceArith;
  sub_: InPlaceArith;
  mul_: (a: Handle, b: Handle | Scalar) => void;
  div_: (a: Handle, b: Handle | Scalar) => void;
  addcmul_: (t: Handle, a: Handle, b: Handle, value: Scalar) => void;
  addcdiv_: (t: Handle, a: Handle, b: Handle, value: Scalar) => void;
  lerp_: (a: Handle, end: Handle, weight: Handle | Scalar) => void;
  clamp_: (t: Handle, min: number | null, max: number | null) => void;
  copy_: (t: Handle, src: Handle) => void;
  fill_: (t: Handle, value: Scalar) => void;
  zero_: (t: Handle) => void;
  sqrt_: (t: Handle) => void;
  erfinv_: (t: Handle) => void;
  normal_: (t: Handle, mean: number, std: number) => void;
  uniform_: (t: Handle, from: number, to: number) => void;
  bernoulli_: (t: Handle, p: number) => void;
  maskedFill_: (x: Handle, mask: Handle, value: Handle | Scalar) => void;
  indexPut_: (x: Handle, indices: readonly (Handle | null)[], values: Handle, accumulate: boolean) => void;

  // reductions
  sum: SumMean;
  mean: SumMean;
  amax: Extremum;
  amin: Extremum;
  maxDim: ValuesIndices;
  minDim: ValuesIndices;
  argmax: ArgExtremum;
  argmin: ArgExtremum;
  var: Moment;
  std: Moment;
  norm: (x: Handle, p: number, dims: Ints | null, keepdim: boolean) => Handle;
  logsumexp: (x: Handle, dims: Ints, keepdim: boolean) => Handle;
  cumsum: (x: Handle, dim: number) => Handle;
  all: Unary;
  any: Unary;
  topk: (x: Handle, k: number, dim: number, largest: boolean, sorted: boolean) => [Handle, Handle];
  sort: (x: Handle, dim: number, descending: boolean) => [Handle, Handle];

  // shape and indexing
  reshape: Reshape;
  view: Reshape;
  permute: Reshape;
  transpose: (x: Handle, d0: number, d1: number) => Handle;
  flatten: (x: Handle, start: number, end: number) => Handle;
  unsqueeze: (x: Handle, dim: number) => Handle;
  squeeze: (x: Handle, dim: number | null) => Handle;
  expand: Reshape;
  repeat: Reshape;
  cat: (ts: readonly Handle[], dim: number) => Handle;
  stack: (ts: readonly Handle[], dim: number) => Handle;
  /** Pieces of `size` along dim, or of the given sizes. */
  split: (x: Handle, size: number | readonly number[], dim: number) => Handle[];
  chunk: (x: Handle, chunks: number, dim: number) => Handle[];
  narrow: (x: Handle, dim: number, start: number, length: number) => Handle;
  select: (x: Handle, dim: number, index: number) => Handle;
  slice: (x: Handle, dim: number, start: number | null, end: number | null, step: number) => Handle;
  indexSelect: (x: Handle, dim: number, index: Handle) => Handle;
  gather: (x: Handle, dim: number, index: Handle) => Handle;
  scatter: (x: Handle, dim: number, index: Handle, src: Handle | Scalar) => Handle;
  index: (x: Handle, indices: readonly (Handle | null)[]) => Handle;
  roll: (x: Handle, shifts: Ints, dims: Ints) => Handle;
  flip: Reshape;
  pad: (x: Handle, pad: Ints, value: Scalar) => Handle;
  tril: (x: Handle, diagonal: number) => Handle;
  triu: (x: Handle, diagonal: number) => Handle;
  oneHot: (x: Handle, numClasses: number) => Handle;
  unfold: (x: Handle, dim: number, size: number, step: number) => Handle;

  // linear algebra and neural-network ops
  matmul: BinaryTensors;
  mm: BinaryTensors;
  bmm: BinaryTensors;
  /** Multi-head self-attention over qkv [B, N, 3C] (native/attention.cc, attention_bf16.cc). */
  attention: (qkv: Handle, heads: number, scale: number, fused: boolean, dropout: number) => Handle;
  /** x W^T + b (native/linear.cc on float32 CPU). */
  linear: (x: Handle, weight: Handle, bias: Handle | null) => Handle;
  einsum: (equation: string, operands: readonly Handle[]) => Handle;
  /** LayerNorm over the last dimension with a bf16 output under autocast (native/layer_norm.cc). */
  layerNormForLinear: (x: Handle, weight: Handle, bias: Handle, eps: number) => Handle;
  layerNorm: (x: Handle, normalizedShape: Ints, weight: Handle | null, bias: Handle | null, eps: number) => Handle;
  /** native/gelu.cc on float32/bf16 exact GELU. */
  gelu: (x: Handle, approximate: "none" | "tanh") => Handle;
  softmax: Softmax;
  logSoftmax: Softmax;
  /** target: class indices (int64) or class probabilities (float, the logits' shape). */
  crossEntropy: (logits: Handle, target: Handle, reduction: Reduction, labelSmoothing: number, ignoreIndex: number) => Handle;
  mseLoss: (input: Handle, target: Handle, reduction: Reduction) => Handle;
  dropout: (x: Handle, p: number, training: boolean) => Handle;
  conv2d: (x: Handle, weight: Handle, bias: Handle | null, stride: Pair, padding: Pair, dilation: Pair, groups: number) => Handle;
  adaptiveAvgPool2d: (x: Handle, output: Pair) => Handle;
  avgPool2d: Pool2d;
  maxPool2d: Pool2d;
  interpolate: (x: Handle, size: Pair, mode: "bilinear" | "bicubic" | "nearest", alignCorners: boolean) => Handle;

  // autograd
  setRequiresGrad: (t: Handle, requiresGrad: boolean) => void;
  requiresGrad: (t: Handle) => boolean;
  isLeaf: (t: Handle) => boolean;
  retainGrad: (t: Handle) => void;
  backward: (t: Handle, gradient: Handle | null, retainGraph: boolean, createGraph: boolean) => void;
  /** The accumulated gradient, or null when there is none. */
  grad: (t: Handle) => Handle | null;
  /** null drops the gradient. */
  setGrad: (t: Handle, grad: Handle | null) => void;

  // modes (the JS side restores the previous state on exit)
  /** Returns the previous state. */
  setGradEnabled: (enabled: boolean) => boolean;
  isGradEnabled: () => boolean;
  /** Returns the previous [enabled, dtype], for autocastExit. */
  autocastEnter: (device: "cpu" | "cuda", dtype: DType) => [boolean, DType];
  autocastExit: (device: "cpu" | "cuda", prevEnabled: boolean, prevDtype: DType) => void;
  isAutocastEnabled: () => boolean;

  // runtime
  /** libtorch's op profiler, written to `path` as a Chrome trace by profileStop. */
  profileStart: (path: string) => void;
  profileStop: () => void;
  setNumThreads: (n: number) => void;
  getNumThreads: () => number;
  manualSeed: (seed: number) => void;
  /** The default CPU generator's state, as a uint8 tensor. */
  rngState: () => Handle;
  setRngState: (state: Handle) => void;
  /** Frees the caching CPU allocator's idle blocks (native/allocator.cc). */
  emptyCache: () => void;
  runtimeInfo: () => NativeRuntimeInfo;
}

export type NativeFunction = keyof NativeModule;

// An object literal with one key per interface entry: `satisfies` fails to compile when the
// interface has an entry the list lacks, or the list a name the interface lacks.
const declared = {
  dispose: 1, account: 1, isDisposed: 1, liveTensors: 1, gcOwnedBytes: 1, shape: 1, dtype: 1, device: 1, numel: 1,
  isContiguous: 1, sameStorage: 1, item: 1,
  fromBuffer: 1, toBuffer: 1, full: 1, empty: 1, randn: 1, rand: 1, randint: 1, randperm: 1, arange: 1, eye: 1,
  linspace: 1, to: 1, contiguous: 1, clone: 1, detach: 1, alias: 1,
  neg: 1, abs: 1, exp: 1, log: 1, log1p: 1, sqrt: 1, rsqrt: 1, square: 1, tanh: 1, sigmoid: 1, relu: 1, silu: 1,
  sin: 1, cos: 1, reciprocal: 1, sign: 1, floor: 1, ceil: 1, round: 1, erf: 1, erfinv: 1, isnan: 1, isfinite: 1,
  logicalNot: 1, mul: 1, div: 1, pow: 1, remainder: 1, eq: 1, ne: 1, lt: 1, le: 1, gt: 1, ge: 1, add: 1, sub: 1,
  rsub: 1, maximum: 1, minimum: 1, logicalAnd: 1, logicalOr: 1, clamp: 1, where: 1, maskedFill: 1, lerp: 1,
  allclose: 1, equal: 1,
  add_: 1, sub_: 1, mul_: 1, div_: 1, addcmul_: 1, addcdiv_: 1, lerp_: 1, clamp_: 1, copy_: 1, fill_: 1, zero_: 1,
  sqrt_: 1, erfinv_: 1, normal_: 1, uniform_: 1, bernoulli_: 1, maskedFill_: 1, indexPut_: 1,
  sum: 1, mean: 1, amax: 1, amin: 1, maxDim: 1, minDim: 1, argmax: 1, argmin: 1, var: 1, std: 1, norm: 1,
  logsumexp: 1, cumsum: 1, all: 1, any: 1, topk: 1, sort: 1,
  reshape: 1, view: 1, permute: 1, transpose: 1, flatten: 1, unsqueeze: 1, squeeze: 1, expand: 1, repeat: 1, cat: 1,
  stack: 1, split: 1, chunk: 1, narrow: 1, select: 1, slice: 1, indexSelect: 1, gather: 1, scatter: 1, index: 1,
  roll: 1, flip: 1, pad: 1, tril: 1, triu: 1, oneHot: 1, unfold: 1,
  matmul: 1, mm: 1, bmm: 1, attention: 1, linear: 1, einsum: 1, layerNormForLinear: 1, layerNorm: 1, gelu: 1,
  softmax: 1, logSoftmax: 1, crossEntropy: 1, mseLoss: 1, dropout: 1, conv2d: 1, adaptiveAvgPool2d: 1,
  avgPool2d: 1, maxPool2d: 1, interpolate: 1,
  setRequiresGrad: 1, requiresGrad: 1, isLeaf: 1, retainGrad: 1, backward: 1, grad: 1, setGrad: 1,
  setGradEnabled: 1, isGradEnabled: 1, autocastEnter: 1, autocastExit: 1, isAutocastEnabled: 1,
  profileStart: 1, profileStop: 1, setNumThreads: 1, getNumThreads: 1, manualSeed: 1, rngState: 1, setRngState: 1,
  emptyCache: 1, runtimeInfo: 1,
} as const satisfies Record<NativeFunction, 1>;

/** Every function NativeModule declares, by name. */
export const NATIVE_FUNCTIONS: readonly NativeFunction[] = Object.keys(declared) as NativeFunction[];

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "binding.gyp"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new PftError("engine", "cannot find the pft package root (binding.gyp) above " + start);
    dir = up;
  }
}

/** Where the compiled addon lives. */
export function addonFile(): string {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  return resolve(root, "build", "Release", "pft_native.node");
}

function load(): NativeModule {
  const file = addonFile();
  if (!existsSync(file)) {
    throw new PftError("engine", `native engine not built (${file} missing): run 'bash setup.sh' or 'npm install'`);
  }
  const require = createRequire(import.meta.url);
  let addon: Partial<Record<NativeFunction, unknown>>;
  try {
    addon = require(file) as Partial<Record<NativeFunction, unknown>>;
  } catch (e) {
    throw new PftError("engine", `cannot load the native engine: ${(e as Error).message.split("\n")[0]}`);
  }
  // A build older than the sources would fail later, at its first call of a new function.
  const missing = NATIVE_FUNCTIONS.filter((name) => typeof addon[name] !== "function");
  if (missing.length) {
    throw new PftError("engine", `native engine out of date (${file} lacks ${missing.join(", ")}): rebuild it with 'npx node-gyp rebuild'`);
  }
  return addon as NativeModule;
}

export const native: NativeModule = load();
