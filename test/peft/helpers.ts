// Tiny models and a synthetic task for the parameter-efficient methods' tests (seconds on 2 cores).
import { Tensor, noGrad } from "../../src/engine/index.js";
import type { VisionModel } from "../../src/models/index.js";

export { quiet, textures, tinyVit } from "../helpers/textures.js";

/** Adds N(0, std²) noise to the named parameters (so zero-initialised ones matter). */
export function perturb(model: VisionModel, names: readonly string[], std = 0.1): void {
  noGrad(() => {
    for (const n of names) {
      const v = model.getParameter(n).value;
      v.add_(Tensor.randn(v.shape).mul_(std));
    }
  });
}

/** Copies of every parameter's bytes, by name. */
export function snapshot(model: VisionModel): Map<string, Buffer> {
  return new Map(model.namedParameters().map((n) => [n.name, Buffer.from(n.param.value.bytes())]));
}

/** max |a - b| / max |b| */
export function relErr(a: Tensor, b: Tensor): number {
  const x = a.toArray();
  const y = b.toArray();
  let num = 0;
  let den = 0;
  x.forEach((v, i) => {
    num = Math.max(num, Math.abs(v - y[i]));
    den = Math.max(den, Math.abs(y[i]));
  });
  return num / den;
}
