// Neural-network ops, in the spirit of torch.nn.functional. Each is one fused libtorch call.
import { callNative as call, Tensor } from "./tensor.js";
import type { Reduction } from "./native.js";
import { scope } from "./scope.js";

export type { Reduction };

const h = (t: Tensor | null | undefined) => (t ? t.handle : null);
const own = Tensor.own;
const pair = (v: number | [number, number]): [number, number] => (typeof v === "number" ? [v, v] : v);

/** x @ weight.T + bias */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return own(call("linear", x.handle, weight.handle, h(bias)));
}

/**
 * LayerNorm over the trailing `normalizedShape` dimensions. An input whose dtype differs from the
 * affine parameters' (bf16 activations under autocast, float32 weights) is normalised in the
 * parameters' dtype: libtorch 1.13 refuses the mix, and normalisation belongs in float32 anyway.
 */
export function layerNorm(x: Tensor, normalizedShape: number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const want = weight?.dtype ?? bias?.dtype;
  if (want && want !== x.dtype) {
    return scope(() => own(call("layerNorm", x.to(want).handle, normalizedShape, h(weight), h(bias), eps)));
  }
  return own(call("layerNorm", x.handle, normalizedShape, h(weight), h(bias), eps));
}

/**
 * LayerNorm over the last dimension whose output only feeds a linear layer (a transformer
 * block's norm1 and norm2). Under bf16 autocast the output is bfloat16, the dtype that linear
 * casts it to anyway, made in one fused pass (native/layer_norm.cc) from a float32 or bf16 input
 * with float32 parameters: the float32 output and the cast, and the cast of the gradient in
 * backward, are skipped. Everywhere else it is F.layerNorm.
 */
export function layerNormForLinear(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  const bf16OnFloat = x.dtype === "bfloat16" && weight.dtype === "float32" && bias.dtype === "float32";
  if (!bf16OnFloat && (x.dtype !== weight.dtype || x.dtype !== bias.dtype)) return layerNorm(x, [x.shape[x.shape.length - 1] ?? 0], weight, bias, eps);
  return own(call("layerNormForLinear", x.handle, weight.handle, bias.handle, eps));
}

export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
  return x.gelu(approximate);
}

export interface AttentionOptions {
  /** Multiplies the scores before the softmax; default head_dim ** -0.5. */
  scale?: number;
  /**
   * false composes it from ATen ops (permute, matmul, softmax) as timm writes it; default true runs
   * the fused kernel when the engine has it: native/attention.cc for float32 and float64
   * (engineInfo().fusedAttention), native/attention_bf16.cc for bfloat16 (fusedAttentionBf16).
   */
  fused?: boolean;
  /** Dropout on the attention weights (timm's attn_drop), applied as given: pass 0 in eval. Composes the attention. */
  dropout?: number;
}

/**
 * Multi-head self-attention over a qkv projection: `qkv` is [B, N, 3 * C] laid out as timm's
 * `qkv(x)` ([B, N, 3, heads, C / heads]); returns softmax(scale * q k^T) v with the heads
 * concatenated, [B, N, C]. float32, bfloat16 (under autocast) and float64; differentiable.
 */
export function attention(qkv: Tensor, heads: number, opts: AttentionOptions = {}): Tensor {
  const dim = qkv.shape[qkv.shape.length - 1] / 3;
  const scale = opts.scale ?? (dim / heads) ** -0.5;
  return own(call("attention", qkv.handle, heads, scale, opts.fused ?? true, opts.dropout ?? 0));
}

export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}

/**
 * Cross-entropy of logits [N, C] against class indices [N] (int64) or class probabilities [N, C]
 * (float; mixup/cutmix targets), with optional label smoothing, as torch.nn.functional.cross_entropy.
 */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction; labelSmoothing?: number; ignoreIndex?: number } = {},
): Tensor {
  return own(call("crossEntropy", logits.handle, target.handle, opts.reduction ?? "mean", opts.labelSmoothing ?? 0, opts.ignoreIndex ?? -100));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor {
  return own(call("mseLoss", input.handle, target.handle, reduction));
}

/** Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p) while training. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return own(call("dropout", x.handle, p, training));
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  /** groups = channels makes a depthwise convolution (ConvNeXt's 7x7). */
  groups?: number;
}

export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  return own(call("conv2d", x.handle, weight.handle, h(bias), pair(opts.stride ?? 1), pair(opts.padding ?? 0), pair(opts.dilation ?? 1), opts.groups ?? 1));
}

export function adaptiveAvgPool2d(x: Tensor, output: number | [number, number]): Tensor {
  return own(call("adaptiveAvgPool2d", x.handle, pair(output)));
}

export function avgPool2d(x: Tensor, kernel: number | [number, number], stride?: number | [number, number], padding: number | [number, number] = 0): Tensor {
  return own(call("avgPool2d", x.handle, pair(kernel), pair(stride ?? kernel), pair(padding)));
}

export function maxPool2d(x: Tensor, kernel: number | [number, number], stride?: number | [number, number], padding: number | [number, number] = 0): Tensor {
  return own(call("maxPool2d", x.handle, pair(kernel), pair(stride ?? kernel), pair(padding)));
}

/** Resizes [N, C, H, W] to `size` (bilinear and bicubic as torch's interpolate, align_corners false by default). */
export function interpolate(x: Tensor, size: [number, number], mode: "bilinear" | "bicubic" | "nearest" = "bilinear", alignCorners = false): Tensor {
  return own(call("interpolate", x.handle, size, mode, alignCorners));
}
