// Synthetic pretrained/fine-tuned checkpoint pairs whose per-unit angles are known by
// construction: each unit's flattened weight vector v is rotated by a chosen angle θ in the plane
// of v and a random direction u ⟂ v:  w = cos θ · v + sin θ · |v| · û. Everything else is copied.
import { join } from "node:path";
import { Tensor, scope } from "../../src/engine/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { catalogOf, type Catalog, type VisionModel } from "../../src/models/index.js";

/** mulberry32: a small seeded PRNG, so the fixtures are the same every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i], 0);

/** w at angle θ (radians) from v, rotated towards a random direction. */
export function rotate(v: Float64Array, theta: number, rand: () => number): Float64Array {
  const nv = Math.sqrt(dot(v, v));
  const vh = v.map((x) => x / nv);
  let u = Float64Array.from(v, () => rand() * 2 - 1);
  for (let pass = 0; pass < 2; pass++) {
    const p = dot(u, vh);
    u = u.map((x, i) => x - p * vh[i]);
  }
  const nu = Math.sqrt(dot(u, u));
  return v.map((x, i) => Math.cos(theta) * x + Math.sin(theta) * nv * (u[i] / nu));
}

export interface SyntheticPair {
  pre: string;
  ft: string;
  catalog: Catalog;
  /** Unit name -> constructed angle in degrees. */
  expected: Map<string, number>;
  /** The values as written (after the dtype cast), by parameter name. */
  preValues: Map<string, Float64Array>;
  ftValues: Map<string, Float64Array>;
}

/**
 * Writes PRE and FT checkpoints of `model` (its current weights as pretrained) into `dir`, FT with
 * each unit rotated by `angleOf(unit, i)` degrees. `edit` may change FT values before writing.
 */
export function writePair(
  dir: string,
  model: VisionModel,
  angleOf: (unit: string, i: number) => number,
  opts: { dtype?: "float32" | "float64"; seed?: number; edit?: (ft: Map<string, Float64Array>) => void; prefix?: string } = {},
): SyntheticPair {
  const dtype = opts.dtype ?? "float64";
  const catalog = catalogOf(model);
  const rand = rng(opts.seed ?? 1);
  const shapes = new Map(model.namedParameters().map((n) => [n.name, n.param.shape]));
  const cast = (x: Float64Array) => (dtype === "float32" ? Float64Array.from(Float32Array.from(x)) : x);
  const preValues = new Map(model.namedParameters().map((n) => [n.name, cast(Float64Array.from(n.param.value.data() as Float32Array))]));
  const ftValues = new Map(preValues);
  const expected = new Map<string, number>();
  catalog.units.forEach((u, i) => {
    const deg = angleOf(u.name, i);
    expected.set(u.name, deg);
    const flat = new Float64Array(u.numel);
    let at = 0;
    for (const p of u.params) {
      flat.set(preValues.get(p)!, at);
      at += preValues.get(p)!.length;
    }
    const w = rotate(flat, (deg * Math.PI) / 180, rand);
    at = 0;
    for (const p of u.params) {
      const n = preValues.get(p)!.length;
      ftValues.set(p, cast(w.slice(at, at + n)));
      at += n;
    }
  });
  opts.edit?.(ftValues);
  const prefix = opts.prefix ?? "";
  const pre = join(dir, `${prefix}pre.safetensors`);
  const ft = join(dir, `${prefix}ft.safetensors`);
  const toTensors = (values: Map<string, Float64Array>) =>
    new Map([...values].map(([k, v]) => [k, dtype === "float64" ? Tensor.from(v, shapes.get(k)!, { dtype }) : Tensor.from(Float32Array.from(v), shapes.get(k)!, { dtype })]));
  scope(() => writeSafetensors(pre, toTensors(preValues)));
  scope(() => writeSafetensors(ft, toTensors(ftValues)));
  return { pre, ft, catalog, expected, preValues, ftValues };
}
