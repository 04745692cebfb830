// Small checkpoints for the soup tests: a tiny ViT's state dict, perturbed copies, and a way to
// read a file back as plain arrays.
import { writeSafetensors, readSafetensors } from "../../src/nn/index.js";
import { Tensor, manualSeed, noGrad, scope } from "../../src/engine/index.js";
import { VisionTransformer } from "../../src/models/index.js";

export const TINY = { imageSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 2, numHeads: 2, numClasses: 3 } as const;

/** A tiny ViT's weights as plain float32 arrays by name (seeded). */
export function tinyWeights(seed: number): Map<string, { shape: number[]; values: Float32Array }> {
  manualSeed(seed);
  const m = new VisionTransformer({ ...TINY });
  try {
    return new Map([...m.stateDict()].map(([k, v]) => [k, { shape: v.shape, values: v.data() as Float32Array }]));
  } finally {
    m.dispose();
  }
}

/** `base` with the names `which` selects replaced by seeded noise (other tensors keep base's exact values). */
export function perturbed(base: Map<string, { shape: number[]; values: Float32Array }>, seed: number, which: (name: string) => boolean = () => true): Map<string, { shape: number[]; values: Float32Array }> {
  manualSeed(seed);
  return new Map(
    [...base].map(([k, v]) => [
      k,
      which(k) ? { shape: v.shape, values: scope(() => noGrad(() => Tensor.from(v.values, v.shape).add(Tensor.randn(v.shape).mul(0.05)).data() as Float32Array)) } : v,
    ]),
  );
}

/** Writes plain arrays as a safetensors file (float32 unless `dtype` says otherwise). */
export function writeWeights(path: string, w: Map<string, { shape: number[]; values: Float32Array }>, metadata?: Record<string, string>, dtype: "float32" | "bfloat16" = "float32"): string {
  scope(() => writeSafetensors(path, new Map([...w].map(([k, v]) => [k, dtype === "float32" ? Tensor.from(v.values, v.shape) : Tensor.from(v.values, v.shape).to(dtype)])), metadata));
  return path;
}

/** A safetensors file's tensors as raw bytes by name. */
export function readBytes(path: string): Map<string, Buffer> {
  const { tensors } = readSafetensors(path);
  const out = new Map([...tensors].map(([k, t]) => [k, Buffer.from(t.bytes())]));
  tensors.forEach((t) => t.dispose());
  return out;
}

/** A safetensors file's tensors as float32 arrays by name. */
export function readValues(path: string): Map<string, Float32Array> {
  const { tensors } = readSafetensors(path);
  const out = new Map([...tensors].map(([k, t]) => [k, t.data() as Float32Array]));
  tensors.forEach((t) => t.dispose());
  return out;
}
