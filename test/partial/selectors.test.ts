// The cheap selectors' scores: relative weight change against its closed form on rotated
// checkpoints (a rotation by θ keeps the norm, so ‖ΔW‖/‖W‖ = 2 sin(θ/2)) and against a hand
// computation after a rescale; relative gradient norms from per-parameter sums; random draws give
// every k-subset of a group; the gradient at the pretrained weights equals the mean of the
// batches' gradients taken one by one, and leaves weights and flags as they were.
import { test } from "node:test";
import assert from "node:assert/strict";
import { F, manualSeed } from "../../src/index.js";
import { catalogOf } from "../../src/models/index.js";
import { openWeights, randomScores, relativeGradientScores, selectFapft, weightChangeOf } from "../../src/partial/index.js";
import { gradientNorms } from "../../src/train/index.js";
import type { Batch } from "../../src/train/index.js";
import { tempDir } from "../helpers/reference.js";
import { tinyVit } from "../helpers/textures.js";
import { synthetic, tiny } from "../train/synthetic.js";
import { rng, writePair } from "./synthetic.js";

test("weight change: 2 sin(θ/2) for a rotation, and the hand value after a rescale", () => {
  const { dir, cleanup } = tempDir();
  try {
    manualSeed(3);
    const model = tinyVit(3);
    const pair = writePair(dir, model, (_u, i) => 5 + 7 * i, {
      edit: (ft) => {
        // Scale the first unit's first tensor by 1.5: a norm change the closed form does not cover.
        const first = catalogOf(model).units[0].params[0];
        ft.set(first, ft.get(first)!.map((x) => 1.5 * x));
      },
    });
    using pre = openWeights(pair.pre);
    using ft = openWeights(pair.ft);
    const change = weightChangeOf(pre, ft);
    const units = pair.catalog.units;
    assert.equal(change.size, units.length);
    units.forEach((u, i) => {
      if (i === 0) {
        let dd = 0, pp = 0;
        for (const p of u.params) {
          const a = pair.preValues.get(p)!, b = pair.ftValues.get(p)!;
          a.forEach((x, j) => { dd += (b[j] - x) ** 2; pp += x * x; });
        }
        assert.ok(Math.abs(change.get(u.name)! - Math.sqrt(dd / pp)) < 1e-12, `${u.name}: ${change.get(u.name)} vs ${Math.sqrt(dd / pp)}`);
      } else {
        const theta = ((5 + 7 * i) * Math.PI) / 180;
        assert.ok(Math.abs(change.get(u.name)! - 2 * Math.sin(theta / 2)) < 1e-12, `${u.name}: ${change.get(u.name)} vs ${2 * Math.sin(theta / 2)}`);
      }
    });
  } finally {
    cleanup();
  }
});

test("relative gradient norms sum squares over a unit's parameters", () => {
  const catalog = catalogOf(tinyVit(3));
  const gradSq = new Map<string, number>();
  const weightSq = new Map<string, number>();
  catalog.units.forEach((u, i) => u.params.forEach((p, j) => { gradSq.set(p, (i + 1) * (j + 1)); weightSq.set(p, 4 * (j + 1)); }));
  const scores = relativeGradientScores(catalog, gradSq, weightSq);
  catalog.units.forEach((u, i) => {
    const tri = u.params.reduce((s, _p, j) => s + (j + 1), 0);
    assert.ok(Math.abs(scores.get(u.name)! - Math.sqrt(((i + 1) * tri) / (4 * tri))) < 1e-12);
  });
  const missing = new Map(gradSq);
  missing.delete(catalog.units[1].params[0]);
  assert.throws(() => relativeGradientScores(catalog, missing, weightSq), new RegExp(`no gradient norm for parameter '${catalog.units[1].params[0].replace(/\./g, "\\.")}'`));
});

test("random scores: seeded draws repeat, and the top-1 of a group falls on every unit about equally often", () => {
  const catalog = catalogOf(tinyVit(3));
  const a = randomScores(catalog, rng(11));
  const b = randomScores(catalog, rng(11));
  assert.deepEqual([...a], [...b]);
  const group = catalog.groups[0];
  const hits = new Map(group.units.map((u) => [u.name, 0]));
  const draws = 3000;
  const rand = rng(12);
  for (let t = 0; t < draws; t++) {
    const topk = catalog.depths.map(() => 1);
    const chosen = selectFapft(catalog, randomScores(catalog, rand), { topk, direction: "largest" });
    const inGroup = chosen.filter((u) => group.units.includes(u));
    assert.equal(inGroup.length, 1);
    hits.set(inGroup[0].name, hits.get(inGroup[0].name)! + 1);
  }
  const expect = draws / group.units.length;
  for (const [name, h] of hits) assert.ok(Math.abs(h - expect) < 5 * Math.sqrt(expect), `${name} chosen ${h} times of ${draws}, expected about ${expect}`);
});

test("gradient norms at the pretrained weights: the mean of the batches' gradients, weights and flags untouched", () => {
  manualSeed(7);
  const model = tiny();
  model.freezeAll();
  model.setTrainable((n) => n.startsWith("head."), true);
  const before = new Map([...model.stateDict()].map(([k, v]) => [k, Buffer.from(v.bytes())]));
  const source = synthetic(48, 4);
  const got = gradientNorms(model, source, { batches: 2, bf16: false });
  assert.equal(got.steps, 2);
  // The same two batches, one backward each, summed by hand.
  model.unfreezeAll();
  model.train();
  const sums = new Map<string, Float64Array>();
  let k = 0;
  for (const batch of source.batches(0) as Iterable<Batch>) {
    model.zeroGrad();
    F.crossEntropy(model.forward(batch.x), batch.y).backward();
    for (const { name, param } of model.namedParameters()) {
      const g = Float64Array.from(param.grad!.toArray() as number[]);
      const s = sums.get(name);
      if (s) g.forEach((v, i) => (s[i] += v));
      else sums.set(name, g);
    }
    if (++k === 2) break;
  }
  model.zeroGrad();
  for (const [name, s] of sums) {
    const expect = s.reduce((a, v) => a + (v / 2) ** 2, 0);
    const rel = Math.abs(got.gradSq.get(name)! - expect) / Math.max(expect, 1e-30);
    assert.ok(rel < 1e-4, `${name}: ${got.gradSq.get(name)} vs ${expect}`);
  }
  for (const [k2, v] of model.stateDict()) assert.ok(Buffer.from(v.bytes()).equals(before.get(k2)!), `${k2} changed`);
  model.freezeAll();
  model.setTrainable((n) => n.startsWith("head."), true);
  const again = gradientNorms(model, source, { batches: 1, bf16: false });
  assert.equal(again.steps, 1);
  assert.deepEqual(model.trainableParameters().map((n) => n.name).every((n) => n.startsWith("head.")), true, "requires-grad flags restored");
  assert.ok(model.namedParameters().every((n) => n.param.grad === null || n.param.grad.abs().sum().item() === 0), "gradients cleared");
});
