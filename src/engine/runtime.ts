// What the engine runs on (libtorch build, BLAS, threads, bf16 support) and its global knobs:
// thread count and the random generator. The thread count is set once at load from PFT_THREADS
// (default: every core), for libtorch's pool and OpenBLAS's together.
import { availableParallelism } from "node:os";
import { readFileSync, renameSync, rmSync } from "node:fs";
import { PftError } from "../errors.js";
import { tempPathFor } from "../files.js";
import { callNative as call, Tensor } from "./tensor.js";

export interface EngineInfo {
  torchVersion: string;
  /** The shared library that provides sgemm_ (the active libblas.so.3 on Debian). */
  blasLibrary: string;
  blasKind: "openblas" | "reference" | "mkl" | "other" | "none";
  blasConfig: string;
  blasThreads: number;
  /**
   * How OpenBLAS runs in parallel: "openmp" shares libtorch's OpenMP pool; "pthreads" keeps its
   * own threads, which contend with libtorch's (float32 training measured 2x slower on 2 cores).
   */
  blasThreading: "openmp" | "pthreads" | "sequential" | "unknown";
  threads: number;
  /** The CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), so bf16 autocast pays off. */
  cpuBf16: boolean;
  mkldnn: boolean;
  cudaDevices: number;
  /** glibc malloc keeps freed tensor memory for reuse (native/addon.cc TuneMalloc; PFT_MALLOC_TUNING=0 turns it off). */
  mallocTuned: boolean;
  /** F.attention runs the fused kernel (native/attention.cc; needs oneDNN's GEMM from libtorch's libdnnl). */
  fusedAttention: boolean;
  /** bfloat16 F.attention runs its fused kernel (native/attention_bf16.cc; needs AVX-512 BF16 and an even head size; PFT_FUSED_ATTENTION=0 composes it). */
  fusedAttentionBf16: boolean;
  /** float32/bf16 exact GELU runs the kernel that keeps gelu'(x) for backward (native/gelu.cc; needs AVX-512; PFT_FUSED_GELU=0 leaves at::gelu). */
  fusedGelu: boolean;
  /** float32 F.linear runs on oneDNN's sgemm (native/linear.cc; PFT_DNNL_LINEAR=0 leaves at::linear's BLAS). */
  onednnLinear: boolean;
  /** Under bf16 autocast, F.layerNormForLinear runs the fused kernel with a bf16 output, from a float32 or bf16 input (native/layer_norm.cc; needs AVX-512; PFT_FUSED_LAYER_NORM=0 composes it). */
  fusedLayerNorm: boolean;
  /** Threads a parallel loop in the addon's own kernels runs on (equals `threads` when the addon was built with OpenMP, as it must be). */
  kernelThreads: number;
  /** The caching CPU allocator (native/allocator.cc): its cap on idle bytes (0: not installed), what it holds idle, and how often a request was served from it. */
  cpuCache: { limitBytes: number; idleBytes: number; hits: number; misses: number };
}

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new PftError("argument", `thread count must be a positive integer, got ${n}`);
  call("setNumThreads", n);
}

export function getNumThreads(): number {
  return call("getNumThreads");
}

/** Seeds libtorch's global CPU generator (randn, dropout, randperm, ...). */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new PftError("argument", `seed must be a non-negative integer, got ${seed}`);
  call("manualSeed", seed);
}

/** The global generator's state as bytes (for checkpoints: resume continues the same random stream). */
export function getRngState(): Uint8Array {
  const t = Tensor.own(call("rngState"));
  try {
    return t.bytes();
  } finally {
    t.dispose();
  }
}

export function setRngState(state: Uint8Array): void {
  const t = Tensor.fromBytes(state, [state.byteLength], "uint8");
  try {
    call("setRngState", t.handle);
  } finally {
    t.dispose();
  }
}

function cpuHasBf16(): boolean {
  try {
    const flags = readFileSync("/proc/cpuinfo", "utf8");
    return /\b(avx512_bf16|amx_bf16)\b/.test(flags);
  } catch {
    return false;
  }
}

function blasKind(path: string, config: string): EngineInfo["blasKind"] {
  if (!path) return "none";
  if (config.startsWith("OpenBLAS") || /openblas/i.test(path)) return "openblas";
  if (/mkl/i.test(path)) return "mkl";
  if (/\/blas\/libblas\.so/.test(path)) return "reference";
  return "other";
}

let cachedBf16: boolean | undefined;

export function engineInfo(): EngineInfo {
  const raw = call("runtimeInfo");
  cachedBf16 ??= cpuHasBf16();
  return {
    torchVersion: /TORCH_VERSION=([\w.+-]+)/.exec(raw.config)?.[1] ?? "unknown",
    blasLibrary: raw.blasLibrary,
    blasKind: blasKind(raw.blasLibrary, raw.openblasConfig),
    blasConfig: raw.openblasConfig.trim(),
    blasThreads: raw.blasThreads,
    blasThreading: (["sequential", "pthreads", "openmp"] as const)[raw.blasParallel] ?? "unknown",
    threads: raw.threads,
    cpuBf16: cachedBf16,
    mkldnn: raw.mkldnn,
    cudaDevices: raw.cudaDevices,
    mallocTuned: raw.mallocTuned,
    fusedAttention: raw.fusedAttention,
    fusedAttentionBf16: raw.fusedAttentionBf16,
    fusedGelu: raw.fusedGelu,
    onednnLinear: raw.onednnLinear,
    fusedLayerNorm: raw.fusedLayerNorm,
    kernelThreads: raw.kernelThreads,
    cpuCache: raw.cpuCache,
  };
}

/** One line for start-up logs: what computes, with how many threads. */
export function describeEngine(info: EngineInfo = engineInfo()): string {
  const blas =
    info.blasKind === "openblas"
      ? `OpenBLAS (${info.blasConfig.split(" ").slice(0, 2).join(" ")}, ${info.blasThreading}, ${info.blasLibrary})`
      : `${info.blasKind} BLAS (${info.blasLibrary || "none found"})`;
  const bf16 = info.cpuBf16 ? "bf16 native" : "no native bf16";
  const cuda = info.cudaDevices > 0 ? `, ${info.cudaDevices} CUDA device(s)` : "";
  const malloc = info.mallocTuned ? ", malloc keeps freed memory" : "";
  const cache = info.cpuCache.limitBytes > 0 ? `, caching allocator (${Math.round(info.cpuCache.limitBytes / 2 ** 20)} MiB)` : "";
  const attention = info.fusedAttention ? `, fused attention${info.fusedAttentionBf16 ? " (float32 and bf16)" : ""}` : ", attention from ATen ops";
  const linear = info.onednnLinear ? ", float32 linear on oneDNN" : "";
  const norm = info.fusedLayerNorm ? ", fused bf16 layer norm" : "";
  const gelu = info.fusedGelu ? ", GELU keeping its derivative" : "";
  return `pft engine: libtorch ${info.torchVersion}, ${blas}, ${info.threads} threads, ${bf16}${cuda}${malloc}${cache}${attention}${linear}${norm}${gelu}`;
}

/** A warning when the BLAS in use is slow for libtorch; null when fine. */
export function blasWarning(info: EngineInfo = engineInfo()): string | null {
  if (info.blasKind === "reference") {
    return "warning: the active BLAS is the reference implementation (~30x slower); install libopenblas0-openmp";
  }
  if (info.blasKind === "openblas" && info.blasThreading === "pthreads" && info.threads > 1) {
    return "warning: OpenBLAS runs its own pthreads, which contend with libtorch's OpenMP threads (float32 training ~2x slower); install libopenblas0-openmp and make it the active libblas.so.3 (bash setup.sh does)";
  }
  return null;
}

/** Frees what the caching CPU allocator holds idle (tensors in use keep their memory). */
export function emptyCache(): void {
  call("emptyCache");
}

/**
 * Runs `fn` under libtorch's op profiler and writes every ATen op it ran (forward and backward,
 * with times) to `tracePath` as a Chrome trace (chrome://tracing, Perfetto). One profile at a time.
 */
export function profile<T>(tracePath: string, fn: () => T): T {
  const tmp = tempPathFor(tracePath);
  call("profileStart", tmp);
  let ok = false;
  try {
    const out = fn();
    ok = true;
    return out;
  } finally {
    call("profileStop");
    if (ok) renameSync(tmp, tracePath);
    else rmSync(tmp, { force: true });
  }
}

function checkEnv(): void {
  const cache = process.env.PFT_CPU_CACHE_MB;
  if (cache !== undefined && !/^\d+$/.test(cache)) throw new PftError("argument", `PFT_CPU_CACHE_MB must be a non-negative integer (MiB), got '${cache}'`);
}

function initThreads(): void {
  const env = process.env.PFT_THREADS;
  const n = env ? Number(env) : availableParallelism();
  if (!Number.isInteger(n) || n < 1) throw new PftError("argument", `PFT_THREADS must be a positive integer, got '${env}'`);
  call("setNumThreads", n);
}

checkEnv();
initThreads();
