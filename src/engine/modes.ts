// Scoped global modes: gradient recording and mixed-precision autocast.
// Each restores the previous state on exit, also when the function throws.
import { callNative as call, type DType } from "./tensor.js";

/** Runs fn without recording autograd history (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  return withGradEnabled(false, fn);
}

/** Runs fn with autograd recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradEnabled(true, fn);
}

export function isGradEnabled(): boolean {
  return call("isGradEnabled");
}

function withGradEnabled<T>(enabled: boolean, fn: () => T): T {
  const prev = call("setGradEnabled", enabled);
  try {
    return fn();
  } finally {
    call("setGradEnabled", prev);
  }
}

export interface AutocastOptions {
  /** Lower-precision type for matmul/conv/linear; bfloat16 on CPUs (float16 is for CUDA). */
  dtype?: Extract<DType, "bfloat16" | "float16">;
  device?: "cpu" | "cuda";
  /** false runs fn unchanged (lets callers write autocast(fn, { enabled: precision === "bf16" })). */
  enabled?: boolean;
}

/**
 * Mixed precision, as torch.autocast: inside fn, libtorch runs matmul, linear and conv in the
 * lower precision and keeps precision-sensitive ops (softmax, layer_norm, losses) in float32.
 * Parameters stay float32 (master weights); their bf16 copies are cached until the outermost
 * autocast exits. Run backward outside (after) the scope, as in PyTorch.
 */
export function autocast<T>(fn: () => T, opts: AutocastOptions = {}): T {
  if (opts.enabled === false) return fn();
  const device = opts.device ?? "cpu";
  const [prevEnabled, prevDtype] = call("autocastEnter", device, opts.dtype ?? "bfloat16");
  try {
    return fn();
  } finally {
    call("autocastExit", device, prevEnabled, prevDtype);
  }
}

export function isAutocastEnabled(): boolean {
  return call("isAutocastEnabled");
}
