// Paired intervals and the three-valued verdict: Student-t quantiles against published values and
// closed forms, a hand-computed paired interval, and fixtures whose interval lies above zero,
// below zero, and across it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decide, describePaired, pairedDifference, studentTCdf, studentTQuantile } from "../../src/report/paired.js";

test("Student t: 0.975 quantiles match published values", () => {
  const table: [number, number][] = [[1, 12.706204736], [2, 4.30265273], [3, 3.182446305], [4, 2.776445105], [5, 2.570581836], [9, 2.262157163], [29, 2.045229642], [100, 1.983971519]];
  for (const [df, q] of table) assert.ok(Math.abs(studentTQuantile(0.975, df) - q) < 1e-7, `df ${df}: ${studentTQuantile(0.975, df)} vs ${q}`);
  assert.ok(Math.abs(studentTQuantile(0.025, 4) + 2.776445105) < 1e-7);
});

test("Student t: the CDF matches the closed forms for 1 and 2 degrees of freedom", () => {
  for (const t of [-7, -1.3, -0.2, 0, 0.4, 2.5, 30]) {
    assert.ok(Math.abs(studentTCdf(t, 1) - (0.5 + Math.atan(t) / Math.PI)) < 1e-12, `df 1 at ${t}`);
    assert.ok(Math.abs(studentTCdf(t, 2) - (0.5 + t / (2 * Math.sqrt(2 + t * t)))) < 1e-12, `df 2 at ${t}`);
  }
});

const seeded = (xs: number[], seeds = xs.map((_, i) => i)) => xs.map((value, i) => ({ seed: seeds[i], value }));

test("pairedDifference pairs by seed and computes the t interval by hand", () => {
  // a - b per seed: 0.02, 0.04, 0.00, 0.06 -> mean 0.03, sd sqrt(0.002/3)
  const a = seeded([0.82, 0.84, 0.8, 0.86], [3, 1, 2, 0]);
  const b = seeded([0.8, 0.8, 0.8, 0.8], [3, 1, 2, 0]);
  const extra = [...b, { seed: 9, value: 0.1 }]; // unpaired: ignored
  const d = pairedDifference(a, extra);
  assert.equal(d.n, 4);
  assert.deepEqual(d.seeds, [0, 1, 2, 3]);
  assert.ok(Math.abs(d.mean - 0.03) < 1e-12);
  const sd = Math.sqrt(0.002 / 3);
  assert.ok(Math.abs(d.std - sd) < 1e-12);
  const half = 3.182446305 * (sd / 2);
  assert.ok(Math.abs(d.lo! - (0.03 - half)) < 1e-9 && Math.abs(d.hi! - (0.03 + half)) < 1e-9);
  assert.throws(() => pairedDifference([...a, { seed: 1, value: 0 }], b), /seed 1 appears twice/);
});

test("decide: holds above zero, fails below, undecided across zero or without an interval", () => {
  const above = pairedDifference(seeded([0.9, 0.91, 0.92, 0.9, 0.93]), seeded([0.85, 0.86, 0.86, 0.84, 0.87]));
  const below = pairedDifference(seeded([0.8, 0.81, 0.79, 0.8, 0.82]), seeded([0.85, 0.86, 0.86, 0.84, 0.87]));
  const across = pairedDifference(seeded([0.86, 0.83, 0.88, 0.82, 0.87]), seeded([0.85, 0.86, 0.86, 0.84, 0.87]));
  assert.ok(above.lo! > 0 && below.hi! < 0 && across.lo! < 0 && across.hi! > 0);
  assert.equal(decide(above), "holds");
  assert.equal(decide(below), "fails");
  assert.equal(decide(across), "undecided");
  assert.equal(decide(above, "less"), "fails");
  assert.equal(decide(below, "less"), "holds");
  assert.equal(decide(across, "less"), "undecided");
  // A margin: "not worse by more than 10 points" holds for `below` (about -5 points).
  assert.equal(decide(below, "greater", -0.1), "holds");
  const one = pairedDifference(seeded([0.9]), seeded([0.5]));
  assert.equal(one.lo, null);
  assert.equal(decide(one), "undecided", "a single pair has no noise estimate, however large the difference");
  assert.equal(decide(pairedDifference(seeded([0.9]), seeded([0.5], [7]))), "undecided", "no shared seed");
});

test("describePaired states the interval and the number of pairs", () => {
  const d = pairedDifference(seeded([0.82, 0.84, 0.8, 0.86]), seeded([0.8, 0.8, 0.8, 0.8]));
  assert.match(describePaired(d), /^\+3\.00 \[\u22121\.11, \+7\.11\] points \(4 paired seeds, 95% t interval\)$/);
  assert.match(describePaired(pairedDifference(seeded([0.5]), seeded([0.6]))), /^\u221210\.00 points \(1 paired seed, no interval\)$/);
});
