// Soups over deltas from the base: every method against hand-computed values on small tensors
// (sign-election ties, all-zero deltas, one ingredient), equality with the uniform soup where the
// methods coincide, and the base checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PftError, liveTensors } from "../../src/index.js";
import { readSafetensors } from "../../src/nn/index.js";
import { openIngredients, writeAverage, writeMerge, soupAll, openBase, checkDescent, selectKth, modelStockRatio, tiesKeep, type MergeSpec } from "../../src/soups/index.js";
import { tempDir } from "../helpers/reference.js";
import { tinyWeights, perturbed, writeWeights, readBytes, readValues } from "./fixtures.js";

type W = Map<string, { shape: number[]; values: Float32Array }>;
const w = (o: Record<string, number[]>): W => new Map(Object.entries(o).map(([k, v]) => [k, { shape: [v.length], values: Float32Array.from(v) }]));

/** Writes base and ingredients, merges with `spec`, returns the soup's values and the summary. */
function merge(base: W, ings: W[], spec: MergeSpec) {
  const { dir, cleanup } = tempDir();
  try {
    const b = writeWeights(join(dir, "base.safetensors"), base);
    const paths = ings.map((x, i) => writeWeights(join(dir, `i${i}.safetensors`), x));
    using set = openIngredients(paths);
    using pre = openBase(b, set);
    const out = join(dir, "soup.safetensors");
    const summary = writeMerge(set, pre.reader, out, spec);
    return { values: readValues(out), bytes: readBytes(out), baseBytes: readBytes(b), summary };
  } finally {
    cleanup();
  }
}

const close = (actual: Float32Array, expected: number[], what: string) => {
  assert.equal(actual.length, expected.length, what);
  expected.forEach((e, j) => assert.ok(Math.abs(actual[j] - e) <= 1e-6 * Math.max(1, Math.abs(e)), `${what}[${j}]: ${actual[j]} vs ${e}`));
};

test("changed-mean: the mean of only the ingredients that changed a tensor; unchanged tensors are the base's bytes; unbased tensors the uniform mean", () => {
  const base = w({ w: [1, 2, 3, 4], frozen: [5, 6, 7] });
  const ings = [w({ w: [2, 2, 3, 4], frozen: [5, 6, 7], head: [1, 1] }), w({ w: [1, 2, 3, 4], frozen: [5, 6, 7], head: [2, 4] }), w({ w: [3, 2, 3, 6], frozen: [5, 6, 7], head: [3, 1] })];
  const r = merge(base, ings, { method: "changed-mean" });
  close(r.values.get("w")!, [2.5, 2, 3, 5], "w"); // mean of ingredients 0 and 2; 1 left w as the base
  assert.ok(r.bytes.get("frozen")!.equals(r.baseBytes.get("frozen")!));
  close(r.values.get("head")!, [2, 2], "head (not in the base)");
  assert.deepEqual(r.summary.differing, ["head", "w"]);
  assert.equal(r.summary.shared, 1);
  assert.deepEqual(r.summary.unbased, ["head"]);
});

test("task-arithmetic: b + lambda * the sum of the deltas", () => {
  const base = w({ w: [1, 2, 3, 4] });
  const ings = [w({ w: [2, 2, 3, 4] }), w({ w: [1, 2, 3, 4] }), w({ w: [3, 2, 3, 6] })];
  close(merge(base, ings, { method: "task-arithmetic", lambda: 2 }).values.get("w")!, [1 + 2 * 3, 2, 3, 4 + 2 * 2], "lambda 2");
  close(merge(base, ings, { method: "task-arithmetic", lambda: -0.5 }).values.get("w")!, [1 - 1.5, 2, 3, 4 - 1], "lambda -0.5");
});

test("ties: trim to the top-density magnitudes, elect signs by summed mass, disjoint mean; ties in the election take the majority, then +", () => {
  const zero4 = [0, 0, 0, 0];
  const base = w({ a: zero4, v: [10, 10], u: [0, 0, 0], one: [0], flat: zero4 });
  const ings = [
    // a: density 0.5 keeps 2 of 4. Trimmed: [3,0,2,0], [-4,2,0,0], [0,-3,-2.5,0]; sums [-1,-1,-0.5,0]
    // v: density 0.5 keeps 1 of 2 (1: the first of the tied |1|; 2). u: [1,0,0]-style below.
    w({ a: [3, -1, 2, 0.5], v: [11, 11], u: [1, -1, -1], one: [1], flat: [1, 1, 1, 1] }),
    w({ a: [-4, 2, 1, -0.5], v: [9, 12], u: [-1, -1, -2], one: [-1], flat: zero4 }),
    w({ a: [1, -3, -2.5, 0.1], v: [10, 10], u: [0, 0, 0], one: [0], flat: zero4 }),
  ];
  const r = merge(base, ings, { method: "ties", density: 0.5 });
  // a: elected [-,-,-, tie]; the tensor's majority is - (three -), so element 3 is -; nothing there agrees -> 0
  close(r.values.get("a")!, [-4, -3, -2.5, 0], "a");
  // v: trimmed [1,0] (index order breaks the |1| tie), [0,2]; signs [+,+]; means [1, 2]
  close(r.values.get("v")!, [11, 12], "v");
  // u: density 0.5 of 3 keeps 1: [1,0,0] (first of the tied |1|), [0,0,-2]; sums [1,0,-2]: element 1 ties;
  // the majority (one +, one -) ties as well -> +; nothing non-zero there -> 0
  close(r.values.get("u")!, [1, 0, -2], "u");
  // one: [1] and [-1] sum to 0, the majority is 0 too -> +: the mean of the + deltas
  close(r.values.get("one")!, [1], "one");
  // flat: one ingredient's delta [1,1,1,1] keeps its first two (ties at the threshold in index order)
  close(r.values.get("flat")!, [1, 1, 0, 0], "flat");

  const full = merge(base, ings, { method: "ties", density: 1, lambda: 0.5 });
  // density 1: a's sums [0,-2,0.5,0.1]: element 0 ties (majority of [0,-,+,+] is + -> mean of 3 and 1 = 2)
  close(full.values.get("a")!, [0.5 * 2, 0.5 * -2, 0.5 * 1.5, 0.5 * 0.3], "a, density 1, lambda 0.5");
  assert.equal(tiesKeep(0.5, 3), 1);
  assert.equal(tiesKeep(0.01, 10), 1, "never trims a tensor to nothing");
  assert.equal(tiesKeep(1, 7), 7);
});

test("wise-ft: (1 - alpha) b + alpha x for one fine-tune, or for the uniform soup of several", () => {
  const base = w({ w: [0, 4] });
  close(merge(base, [w({ w: [4, 0] })], { method: "wise-ft", alpha: 0.25 }).values.get("w")!, [1, 3], "one");
  close(merge(base, [w({ w: [4, 0] }), w({ w: [8, 8] })], { method: "wise-ft", alpha: 0.5 }).values.get("w")!, [3, 4], "two: halfway to their mean [6, 4]");
  close(merge(base, [w({ w: [4, 0] })], { method: "wise-ft", alpha: 0 }).values.get("w")!, [0, 4], "alpha 0: the base");
});

test("model-stock: t = N cos / (1 + (N - 1) cos) per tensor; a zero delta counts as cosine 0; disagreement or one ingredient", () => {
  const base = w({ orth: [0, 0], diag: [0, 0], same: [0, 0], anti: [0, 0] });
  const r2 = merge(base, [w({ orth: [1, 0], diag: [1, 0], same: [1, 0], anti: [1, 0] }), w({ orth: [0, 1], diag: [1, 1], same: [1, 0], anti: [-1, 0] })], { method: "model-stock" });
  close(r2.values.get("orth")!, [0, 0], "orthogonal deltas: t = 0, the base");
  const c = Math.SQRT1_2;
  const t = (2 * c) / (1 + c);
  close(r2.values.get("diag")!, [t * 1, t * 0.5], "45 degrees");
  assert.ok(Math.abs(r2.summary.ratios.diag - t) < 1e-12);
  close(r2.values.get("same")!, [1, 0], "equal deltas: t = 1, the average");
  close(r2.values.get("anti")!, [0, 0], "opposite deltas: cosine -1, t = 0");
  // three ingredients, the third leaving the tensor alone: cosines 1, 0, 0 -> mean 1/3 -> t = 0.6; mean [2/3, 0]
  const r3 = merge(w({ x: [0, 0] }), [w({ x: [1, 0] }), w({ x: [1, 0] }), w({ x: [0, 0] })], { method: "model-stock" });
  close(r3.values.get("x")!, [0.4, 0], "a zero delta pulls toward the base");
  assert.equal(modelStockRatio(1, 5), 1);
  assert.equal(modelStockRatio(-0.1, 3), 0);
  assert.equal(modelStockRatio(0.3, 1), 1);
});

test("all-zero deltas: every method gives the base bit for bit; a single ingredient gives its defined value", () => {
  const base = w({ w: [1.5, -2.25, 3] });
  const same = [w({ w: [1.5, -2.25, 3] }), w({ w: [1.5, -2.25, 3] })];
  const specs: MergeSpec[] = [{ method: "changed-mean" }, { method: "task-arithmetic", lambda: 3 }, { method: "ties", density: 0.3 }, { method: "wise-ft", alpha: 0.7 }, { method: "model-stock" }];
  for (const spec of specs) {
    const r = merge(base, same, spec);
    assert.ok(r.bytes.get("w")!.equals(r.baseBytes.get("w")!), spec.method);
    assert.equal(r.summary.shared, 1, spec.method);
  }
  const one = [w({ w: [2, -2, 5] })]; // delta [0.5, 0.25, 2]
  close(merge(base, one, { method: "changed-mean" }).values.get("w")!, [2, -2, 5], "changed-mean");
  close(merge(base, one, { method: "task-arithmetic", lambda: 2 }).values.get("w")!, [2.5, -1.75, 7], "task-arithmetic");
  close(merge(base, one, { method: "ties", density: 0.34 }).values.get("w")!, [1.5, -2.25, 5], "ties keeps the largest delta");
  close(merge(base, one, { method: "model-stock" }).values.get("w")!, [2, -2, 5], "model-stock: t = 1");
});

test("equal to the uniform soup where they coincide: changed-mean when every ingredient changed a tensor, wise-ft at alpha 1, task-arithmetic at lambda 1/N", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(5);
    const b = writeWeights(join(dir, "base.safetensors"), base);
    const ws = [0, 1, 2].map((i) => perturbed(base, 20 + i, (k) => !k.includes("norm")));
    const paths = ws.map((x, i) => writeWeights(join(dir, `i${i}.safetensors`), x));
    using set = openIngredients(paths);
    using pre = openBase(b, set);
    writeAverage(set, join(dir, "u.safetensors"));
    writeMerge(set, pre.reader, join(dir, "cm.safetensors"), { method: "changed-mean" });
    writeMerge(set, pre.reader, join(dir, "wf.safetensors"), { method: "wise-ft", alpha: 1 });
    writeMerge(set, pre.reader, join(dir, "ta.safetensors"), { method: "task-arithmetic", lambda: 1 / 3 });
    const u = readBytes(join(dir, "u.safetensors"));
    for (const f of ["cm", "wf"]) {
      const m = readBytes(join(dir, `${f}.safetensors`));
      for (const [k, v] of u) assert.ok(v.equals(m.get(k)!), `${f}: ${k}`);
    }
    const uv = readValues(join(dir, "u.safetensors"));
    const ta = readValues(join(dir, "ta.safetensors"));
    for (const [k, v] of uv) v.forEach((x, j) => assert.ok(Math.abs(ta.get(k)![j] - x) <= 2 * 2 ** -23 * Math.max(Math.abs(x), 1e-3), `${k}[${j}]`));
  } finally {
    cleanup();
  }
});

test("selectKth finds the k-th smallest, with many equal values", () => {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const n of [1, 2, 5, 100, 1001]) {
    const a = Float64Array.from({ length: n }, () => Math.floor(rnd() * 7) / 2);
    const sorted = Float64Array.from(a).sort();
    for (const k of [0, n >> 1, n - 1]) assert.equal(selectKth(Float64Array.from(a), k), sorted[k], `n ${n} k ${k}`);
  }
});

test("the base: refused when the ingredients do not descend from it (recorded origin, or neither frozen tensors nor nearness), accepted with evidence", () => {
  const { dir, cleanup } = tempDir();
  try {
    const pre = tinyWeights(1);
    const other = tinyWeights(2);
    const a = writeWeights(join(dir, "pre.safetensors"), pre);
    const b = writeWeights(join(dir, "other.safetensors"), other);
    const partial = writeWeights(join(dir, "partial.safetensors"), perturbed(pre, 3, (k) => k.includes("mlp")));
    // a full fine-tune: every tensor moved, by 10% of its values (fresh weights are small: perturbed()'s noise would outweigh them)
    const scaled = (x: W, f: number): W => new Map([...x].map(([k, v]) => [k, { shape: v.shape, values: v.values.map((y) => y * f) }]));
    const full = writeWeights(join(dir, "full.safetensors"), scaled(pre, 1.1));
    const isBase = (re: RegExp) => (e: unknown) => e instanceof PftError && e.code === "checkpoint" && re.test(e.message) && !e.message.includes("\n");
    {
      using set = openIngredients([partial, full]);
      using base = openBase(a, set);
      assert.deepEqual(checkDescent(set, base).evidence, ["frozen", "distance"]);
      using wrong = openBase(b, set);
      assert.throws(() => checkDescent(set, wrong), isBase(/do not share the base: .*partial\.safetensors is not a fine-tune of .*other\.safetensors/));
    }
    {
      // a full fine-tune of another base, souped with one of pre
      const stranger = writeWeights(join(dir, "stranger.safetensors"), scaled(other, 1.1));
      using set = openIngredients([full, stranger]);
      using base = openBase(a, set);
      assert.throws(() => checkDescent(set, base), isBase(/stranger\.safetensors is not a fine-tune of/));
    }
    {
      // run directories recording their origin
      const run = (name: string, from: string, weights: W) => {
        const d = join(dir, name);
        mkdirSync(d);
        writeWeights(join(d, "model.safetensors"), weights);
        writeFileSync(join(d, "run.json"), JSON.stringify({ from }));
        return d;
      };
      const r1 = run("r1", a, scaled(pre, 1.05));
      const r2 = run("r2", a, scaled(pre, 0.95));
      const r3 = run("r3", b, scaled(pre, 1.02));
      using set = openIngredients([r1, r2]);
      using recorded = openBase(undefined, set);
      assert.equal(recorded.recorded, true);
      assert.deepEqual(checkDescent(set, recorded).evidence, ["recorded", "recorded"]);
      using set3 = openIngredients([r1, r3]);
      assert.throws(() => openBase(undefined, set3), (e: unknown) => e instanceof PftError && /pass them with --base/.test(e.message));
      using base = openBase(a, set3);
      assert.throws(() => checkDescent(set3, base), isBase(/r3 was fine-tuned from .*other\.safetensors \(its run\.json\), not from/));
    }
  } finally {
    cleanup();
  }
});

test("bad parameters are one-line argument errors", () => {
  const base = w({ w: [0] });
  const ings = [w({ w: [1] }), w({ w: [2] })];
  const bad = (spec: MergeSpec, re: RegExp) => assert.throws(() => merge(base, ings, spec), (e: unknown) => e instanceof PftError && e.code === "argument" && re.test(e.message));
  bad({ method: "ties", density: 0 }, /--density must be a fraction in \(0, 1\], got 0/);
  bad({ method: "ties", density: 1.5 }, /--density/);
  bad({ method: "task-arithmetic", lambda: NaN }, /--lambda must be a finite number/);
  bad({ method: "wise-ft", alpha: -0.1 }, /--alpha must be in \[0, 1\]/);
  bad({ method: "nope" } as unknown as MergeSpec, /unknown soup method 'nope'/);
});

test("soupAll writes each method's soup of the same ingredients, as writeMerge would one by one", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(7);
    const b = writeWeights(join(dir, "base.safetensors"), base);
    const paths = [0, 1].map((i) => writeWeights(join(dir, `i${i}.safetensors`), perturbed(base, 30 + i, (k) => k.includes(i === 0 ? "mlp" : "attn"))));
    using set = openIngredients(paths);
    using pre = openBase(b, set);
    const specs: MergeSpec[] = [{ method: "uniform" }, { method: "changed-mean" }, { method: "ties", density: 0.2 }, { method: "model-stock" }];
    const all = soupAll(specs, set, pre.reader, dir);
    assert.deepEqual(all.map((e) => e.file.slice(dir.length + 1)), ["uniform.safetensors", "changed-mean.safetensors", "ties-d0.2.safetensors", "model-stock.safetensors"]);
    for (const e of all) {
      const one = join(dir, "one.safetensors");
      writeMerge(set, pre.reader, one, e.spec);
      const x = readBytes(one);
      for (const [k, v] of readBytes(e.file)) assert.ok(v.equals(x.get(k)!), `${e.spec.method}: ${k}`);
    }
    // disjoint tuning: changed-mean keeps each ingredient's whole change, where uniform halves it
    const cm = readValues(all[1].file);
    const i0 = readValues(paths[0]);
    const k = [...cm.keys()].find((n) => n.includes("mlp"))!;
    assert.deepEqual(cm.get(k), i0.get(k));
  } finally {
    cleanup();
  }
});

test("bf16 checkpoints merge to bf16 (float64 arithmetic, one rounding), holding no native tensor from one tensor to the next", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = w({ a: [1, 2, 3, 4], b: [0.5, 0.25] });
    const ings = [w({ a: [1.5, 2, 3, 4.5], b: [0.5, 0.25] }), w({ a: [2, 2, 3, 4], b: [0.75, 0.25] }), w({ a: [1, 2, 3, 4], b: [0.5, 0.25] })];
    const bp = writeWeights(join(dir, "base.safetensors"), base, undefined, "bfloat16");
    const paths = ings.map((x, i) => writeWeights(join(dir, `i${i}.safetensors`), x, undefined, "bfloat16"));
    using set = openIngredients(paths);
    using pre = openBase(bp, set);
    const before = liveTensors();
    const seen: number[] = [];
    writeMerge(set, pre.reader, join(dir, "cm.safetensors"), { method: "changed-mean" }, { observe: () => seen.push(liveTensors()) });
    writeMerge(set, pre.reader, join(dir, "ms.safetensors"), { method: "model-stock" }, { observe: () => seen.push(liveTensors()) });
    assert.equal(liveTensors(), before, "nothing left behind");
    assert.ok(seen.every((n) => n <= before + 1), `at most the yielded tensor alive: ${seen.join(",")}`);
    const { tensors } = readSafetensors(join(dir, "cm.safetensors"));
    assert.equal(tensors.get("a")!.dtype, "bfloat16");
    assert.deepEqual([...(tensors.get("a")!.to("float32").data() as Float32Array)], [1.75, 2, 3, 4.25]); // ingredients 0 and 1 changed a
    assert.deepEqual([...(tensors.get("b")!.to("float32").data() as Float32Array)], [0.75, 0.25]); // only ingredient 1 changed b
    tensors.forEach((t) => t.dispose());
  } finally {
    cleanup();
  }
});
