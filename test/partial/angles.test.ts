// Fine-tuned angles (Eq. 2) against constructions with known angles and an independent float64
// reference; the streaming reader; and every way two checkpoints can be unusable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { truncateSync, statSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import { PftError } from "../../src/index.js";
import { VisionTransformer, createModel, catalogOf as pairCatalog } from "../../src/models/index.js";
import { computeAngles, vectorAngle, toDegrees, openWeights } from "../../src/partial/index.js";
import { tempDir } from "../helpers/reference.js";
import { writePair } from "./synthetic.js";

const tiny = { imageSize: 8, patchSize: 4, embedDim: 16, depth: 4, numHeads: 2, numClasses: 3 };
// 8 units (4 blocks x attn/ffn): angles spanning 1e-4 to 90 degrees.
const ANGLES = [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 45, 90];

const isPft = (code: string, re: RegExp) => (e: unknown) => e instanceof PftError && e.code === code && re.test(e.message);

test("angles match the constructed rotations from 1e-4 to 90 degrees (float64 checkpoints, relative error < 1e-9)", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pair = writePair(dir, new VisionTransformer(tiny), (_u, i) => ANGLES[i]);
    const report = computeAngles(pair.pre, pair.ft);
    assert.equal(report.arch, "vit");
    assert.deepEqual(report.units.map((u) => u.name), pair.catalog.units.map((u) => u.name));
    for (const u of report.units) {
      const want = pair.expected.get(u.name)!;
      const rel = Math.abs(u.angle - want) / want;
      assert.ok(rel < 1e-9, `${u.name}: ${u.angle} degrees, constructed ${want} (relative error ${rel.toExponential(2)})`);
      assert.equal(u.params, pair.catalog.units.find((c) => c.name === u.name)!.numel);
    }
  } finally {
    cleanup();
  }
});

test("tiny angles stay accurate when fine-tuning also changes the norm (scaled rotations, 1e-4 to 1 degrees)", () => {
  const { dir, cleanup } = tempDir();
  try {
    const scales = [1.1, 0.9, 1.01, 0.5, 2, 1.001, 0.99, 1.3];
    const tinyAngles = [1e-4, 1e-4, 1e-3, 1e-3, 1e-2, 0.1, 1, 1e-4];
    const model = new VisionTransformer(tiny);
    let i = 0;
    const pair = writePair(dir, model, (_u, k) => tinyAngles[k], {
      seed: 11,
      edit: (ft) => {
        // Scale each unit's rotated vector: the angle is unchanged, the norms are not.
        i = 0;
        for (const u of pairCatalog(model).units) {
          for (const p of u.params) ft.set(p, ft.get(p)!.map((x) => x * scales[i]));
          i++;
        }
      },
    });
    let worst = 0;
    for (const u of computeAngles(pair.pre, pair.ft).units) {
      const want = pair.expected.get(u.name)!;
      worst = Math.max(worst, Math.abs(u.angle - want) / want);
    }
    console.log(`scaled rotations: worst relative error ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-8, `worst relative error ${worst}`);
  } finally {
    cleanup();
  }
});

test("the naive acos of the cosine is what loses tiny angles (the reason for Kahan's formula)", () => {
  const { dir, cleanup } = tempDir();
  try {
    const tinyAngles = [1e-4, 1e-6, 1e-7, 1e-5, 1e-4, 1e-6, 1e-7, 1e-5];
    const pair = writePair(dir, new VisionTransformer(tiny), (_u, i) => tinyAngles[i], { seed: 7 });
    const report = computeAngles(pair.pre, pair.ft);
    let naiveWorst = 0;
    for (const u of pair.catalog.units) {
      const a = u.params.flatMap((p) => [...pair.preValues.get(p)!]);
      const b = u.params.flatMap((p) => [...pair.ftValues.get(p)!]);
      let ab = 0, aa = 0, bb = 0;
      for (let i = 0; i < a.length; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
      }
      const naive = toDegrees(Math.acos(Math.min(1, ab / Math.sqrt(aa * bb))));
      const want = pair.expected.get(u.name)!;
      naiveWorst = Math.max(naiveWorst, Math.abs(naive - want) / want);
      const got = report.units.find((x) => x.name === u.name)!.angle;
      assert.ok(Math.abs(got - want) / want < 1e-7, `${u.name}: ${got} vs ${want}`);
    }
    console.log(`naive acos: worst relative error ${naiveWorst.toExponential(2)} at 1e-7..1e-4 degrees`);
    assert.ok(naiveWorst > 1e-2, `naive acos was unexpectedly accurate (${naiveWorst})`);
  } finally {
    cleanup();
  }
});

/** sin θ |a||b| from Lagrange's identity Σ_{i<j} (a_i b_j - a_j b_i)², θ = atan2(that, a·b): exact products for float32 inputs. */
function lagrangeAngle(a: Float64Array, b: Float64Array): number {
  let cross = 0;
  let dot = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    let row = 0;
    for (let j = i + 1; j < a.length; j++) {
      const c = a[i] * b[j] - a[j] * b[i];
      row += c * c;
    }
    cross += row;
  }
  return toDegrees(Math.atan2(Math.sqrt(cross), dot));
}

test("float32 checkpoints: angles match an independent float64 reference (Lagrange's identity, O(n^2))", () => {
  const { dir, cleanup } = tempDir();
  try {
    const small = { imageSize: 4, patchSize: 4, embedDim: 8, depth: 4, numHeads: 2, numClasses: 2 };
    const pair = writePair(dir, new VisionTransformer(small), (_u, i) => ANGLES[i], { dtype: "float32", seed: 3 });
    const report = computeAngles(pair.pre, pair.ft);
    for (const u of pair.catalog.units) {
      const flat = (m: Map<string, Float64Array>) => Float64Array.from(u.params.flatMap((p) => [...m.get(p)!]));
      const want = lagrangeAngle(flat(pair.preValues), flat(pair.ftValues));
      const got = report.units.find((x) => x.name === u.name)!.angle;
      assert.ok(Math.abs(got - want) / want < 1e-8, `${u.name}: ${got} vs reference ${want}`);
    }
  } finally {
    cleanup();
  }
});

test("vectorAngle: chunking does not change the angle; 0 for identical, 180 for opposite, 90 for orthogonal", () => {
  const a = Float64Array.from({ length: 3000 }, (_, i) => Math.sin(i) + 0.1);
  const b = Float64Array.from({ length: 3000 }, (_, i) => Math.sin(i + 0.01) + 0.1);
  const whole = vectorAngle([a], [b]);
  const split = vectorAngle([a.subarray(0, 7), a.subarray(7, 2500), a.subarray(2500)], [b.subarray(0, 7), b.subarray(7, 2500), b.subarray(2500)]);
  assert.ok(Math.abs(whole - split) <= 1e-15 * whole + 1e-300);
  assert.equal(vectorAngle([a], [a]), 0);
  assert.equal(toDegrees(vectorAngle([a], [a.map((x) => -2 * x)])), 180);
  assert.ok(Math.abs(toDegrees(vectorAngle([[1, 0, 0]], [[0, 3, 0]])) - 90) < 1e-12);
});

test("a pft run directory (model.safetensors inside) is accepted like the file", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pair = writePair(dir, new VisionTransformer(tiny), () => 5);
    mkdirSync(join(dir, "run"));
    copyFileSync(pair.ft, join(dir, "run", "model.safetensors"));
    const a = computeAngles(pair.pre, pair.ft).units.map((u) => u.angle);
    const b = computeAngles(pair.pre, join(dir, "run")).units.map((u) => u.angle);
    assert.deepEqual(a, b);
  } finally {
    cleanup();
  }
});

test("a fine-tuned checkpoint with another class count is compared on everything but the head", () => {
  const { dir, cleanup } = tempDir();
  try {
    const model = new VisionTransformer(tiny);
    const pre = writePair(dir, model, () => 2, { prefix: "a-" });
    model.resetClassifier(7);
    const ft = writePair(dir, model, () => 3, { prefix: "b-" });
    const report = computeAngles(pre.pre, ft.ft);
    assert.ok(report.units.every((u) => Math.abs(u.angle - 3) < 1e-9));
  } finally {
    cleanup();
  }
});

test("a unit with all-zero weights is PftError('numeric') naming the unit", () => {
  const { dir, cleanup } = tempDir();
  try {
    const model = new VisionTransformer(tiny);
    const unit = "blocks.2.ffn";
    const pair = writePair(dir, model, () => 1, {
      edit: (ft) => {
        for (const [k, v] of ft) if (k.startsWith("blocks.2.norm2.") || k.startsWith("blocks.2.mlp.")) ft.set(k, new Float64Array(v.length));
      },
    });
    assert.throws(() => computeAngles(pair.pre, pair.ft), isPft("numeric", new RegExp(`unit '${unit.replace(".", "\\.")}'.*fine-tuned.*all zero`)));
  } finally {
    cleanup();
  }
});

test("NaN or Inf in a unit's weights is PftError('numeric') naming the unit", () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [bad, prefix] of [[NaN, "nan-"], [Infinity, "inf-"]] as const) {
      const pair = writePair(dir, new VisionTransformer(tiny), () => 1, {
        prefix,
        edit: (ft) => {
          const v = Float64Array.from(ft.get("blocks.1.attn.qkv.weight")!);
          v[5] = bad;
          ft.set("blocks.1.attn.qkv.weight", v);
        },
      });
      // Refused as the file is read, naming the tensor; with allowNonfinite, the angle is still undefined for the unit.
      const kind = Number.isNaN(bad) ? "NaN" : "Inf";
      assert.throws(() => computeAngles(pair.pre, pair.ft), isPft("numeric", new RegExp(`ft\\.safetensors: tensor 'blocks\\.1\\.attn\\.qkv\\.weight' holds ${kind} \\(1 of [\\d,]+ values\\)$`)));
      assert.throws(() => computeAngles(pair.pre, pair.ft, { allowNonfinite: true }), isPft("numeric", /unit 'blocks\.1\.attn'.*not finite/));
    }
  } finally {
    cleanup();
  }
});

test("mismatched checkpoints are PftError('checkpoint') naming the key", () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = writePair(dir, new VisionTransformer(tiny), () => 1, { prefix: "a-" });
    // A missing unit parameter (one block fewer).
    const shallow = writePair(dir, new VisionTransformer({ ...tiny, depth: 3 }), () => 1, { prefix: "b-" });
    assert.throws(() => computeAngles(a.pre, shallow.ft), isPft("checkpoint", /'blocks\.3\.attn\.proj\.bias' is in .*a-pre.* but not in .*b-ft/));
    // Another width: the first differing key, by shape.
    const wide = writePair(dir, new VisionTransformer({ ...tiny, embedDim: 32, numHeads: 2 }), () => 1, { prefix: "c-" });
    assert.throws(() => computeAngles(a.pre, wide.ft), isPft("checkpoint", /'blocks\.0\.attn\.proj\.bias' has shape \[16\] in .* but \[32\] in/));
    // Another architecture altogether.
    const { dir: d2, cleanup: c2 } = tempDir();
    try {
      const conv = writePair(d2, createModel("convnext_micro_28"), () => 1);
      assert.throws(() => computeAngles(a.pre, conv.ft), isPft("checkpoint", /is a vit checkpoint but .* a convnext one/));
    } finally {
      c2();
    }
  } finally {
    cleanup();
  }
});

test("a truncated or non-safetensors file is PftError('checkpoint'); a missing one PftError('io')", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pair = writePair(dir, new VisionTransformer(tiny), () => 1);
    truncateSync(pair.ft, statSync(pair.ft).size - 100);
    assert.throws(() => computeAngles(pair.pre, pair.ft), isPft("checkpoint", /truncated/));
    const junk = join(dir, "junk.safetensors");
    writeFileSync(junk, "not a checkpoint at all");
    assert.throws(() => computeAngles(pair.pre, junk), isPft("checkpoint", /junk\.safetensors/));
    assert.throws(() => computeAngles(pair.pre, join(dir, "nope.safetensors")), isPft("io", /nope\.safetensors/));
    assert.throws(() => openWeights(dir), isPft("checkpoint", /without model\.safetensors/));
  } finally {
    cleanup();
  }
});
