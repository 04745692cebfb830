// Kendall's tau-b (Fig. 4's consistency of angle rankings) against a direct O(n^2) count, ties
// included; and per-group rankings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PftError } from "../../src/index.js";
import { kendallTau, angleTau, rankByGroup } from "../../src/partial/index.js";
import { paperCatalog } from "./shapes.js";
import { rng } from "./synthetic.js";

/** tau-b by the definition: every pair classified as concordant, discordant, or tied in x / y. */
function directTauB(x: number[], y: number[]): number {
  let c = 0, d = 0, tx = 0, ty = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const sx = Math.sign(x[i] - x[j]);
      const sy = Math.sign(y[i] - y[j]);
      if (sx === 0) tx++;
      if (sy === 0) ty++;
      if (sx !== 0 && sy !== 0) {
        if (sx === sy) c++;
        else d++;
      }
    }
  }
  const n0 = (n * (n - 1)) / 2;
  return (c - d) / Math.sqrt((n0 - tx) * (n0 - ty));
}

test("kendallTau equals the direct O(n^2) tau-b count, with and without ties", () => {
  const r = rng(42);
  for (const n of [2, 3, 5, 12, 24, 50, 200]) {
    for (const levels of [3, 10, 1e9]) {
      const x = Array.from({ length: n }, () => Math.floor(r() * levels));
      const y = x.map((v) => (r() < 0.6 ? v : Math.floor(r() * levels)));
      const want = directTauB(x, y);
      const got = kendallTau(x, y);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `n=${n}: expected NaN`);
      else assert.ok(Math.abs(got - want) < 1e-12, `n=${n}, ${levels} levels: ${got} vs direct ${want}`);
    }
  }
});

test("kendallTau: known values; a constant side is NaN; bad input is an error", () => {
  assert.equal(kendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // scipy.stats.kendalltau([1, 2, 2, 3], [1, 3, 2, 2]).statistic == 0.4
  assert.ok(Math.abs(kendallTau([1, 2, 2, 3], [1, 3, 2, 2]) - 0.4) < 1e-12);
  assert.ok(Number.isNaN(kendallTau([1, 1, 1], [1, 2, 3])));
  assert.throws(() => kendallTau([1, 2], [1]), (e: unknown) => e instanceof PftError && e.code === "argument");
  assert.throws(() => kendallTau([1], [1]), (e: unknown) => e instanceof PftError && e.code === "argument");
});

test("angleTau pairs two runs' angles by unit name", () => {
  const a = new Map([["u1", 0.1], ["u2", 0.5], ["u3", 0.3]]);
  const b = new Map([["u3", 3], ["u1", 1], ["u2", 5]]);
  assert.equal(angleTau(a, b), 1);
  assert.throws(() => angleTau(a, new Map([["u1", 1]])), /unit 'u2'/);
});

test("rankByGroup ranks within each homogeneous group, 1 = largest angle, ties share a rank (Swin-B's 8 groups)", () => {
  const cat = paperCatalog("swin_base_patch4_window7_224", 1000);
  const angles = new Map(cat.units.map((u) => [u.name, u.stage === 2 ? (u.index % 6) : u.index + 1]));
  const ranked = rankByGroup(cat, angles);
  assert.deepEqual(ranked.map((g) => [g.group, g.units.length]), [
    ["stage0.attn", 2], ["stage0.ffn", 2], ["stage1.attn", 2], ["stage1.ffn", 2],
    ["stage2.attn", 18], ["stage2.ffn", 18], ["stage3.attn", 2], ["stage3.ffn", 2],
  ]);
  assert.deepEqual(ranked[0].units.map((u) => u.rank), [2, 1]);
  // stage 2: angles 0..5 repeating three times -> the three 5s share rank 1, the 4s rank 4, ...
  assert.deepEqual(ranked[4].units.slice(0, 6).map((u) => u.rank), [16, 13, 10, 7, 4, 1]);
});
