// Learning-rate schedules: values at chosen steps equal the documented formula, and the warm-up
// rises / the cosine falls monotonically.
import { test } from "node:test";
import assert from "node:assert/strict";
import { warmupCosine, constantLr, lrAt, checkSchedule, type WarmupCosineSchedule } from "../../src/optim/index.js";
import { isPftError } from "../../src/errors.js";

const S: WarmupCosineSchedule = { kind: "warmupCosine", baseLr: 1e-3, warmupInit: 1e-6, warmupSteps: 10, totalSteps: 110, minLr: 1e-5 };

/** Values differ from the hand-written formula only by double rounding. */
function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-15 + 1e-12 * Math.abs(expected), `${what}: ${actual} != ${expected}`);
}

test("warmupCosine at step 0, mid-warm-up, end of warm-up, middle, end and after", () => {
  close(lrAt(0, S), 1e-6, "step 0 = warmupInit");
  close(lrAt(5, S), 1e-6 + (5 * (1e-3 - 1e-6)) / 10, "mid-warm-up (linear)");
  close(lrAt(10, S), 1e-3, "end of warm-up = baseLr");
  close(lrAt(35, S), 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.cos(Math.PI * 0.25)), "quarter of the decay");
  close(lrAt(60, S), (1e-3 + 1e-5) / 2, "middle of the decay = (base + min) / 2");
  close(lrAt(110, S), 1e-5, "totalSteps = minLr");
  assert.equal(lrAt(500, S), 1e-5, "after totalSteps = minLr");
});

test("warmupCosine rises during warm-up and falls after it", () => {
  for (let t = 1; t <= S.warmupSteps; t++) assert.ok(lrAt(t, S) > lrAt(t - 1, S), `not increasing at ${t}`);
  for (let t = S.warmupSteps + 1; t <= S.totalSteps; t++) assert.ok(lrAt(t, S) < lrAt(t - 1, S), `not decreasing at ${t}`);
});

test("no warm-up starts at baseLr; constant is constant", () => {
  close(warmupCosine(0, { ...S, warmupSteps: 0 }), 1e-3, "no warm-up");
  close(warmupCosine(50, { ...S, warmupSteps: 0, totalSteps: 100 }), (1e-3 + 1e-5) / 2, "no warm-up, middle");
  for (const t of [0, 1, 99, 10_000]) assert.equal(lrAt(t, { kind: "constant", baseLr: 3e-4 }), 3e-4);
  assert.equal(constantLr(7, { baseLr: 0.1 }), 0.1);
});

test("bad schedules and steps are rejected", () => {
  const isErr = (code: string) => (e: unknown) => isPftError(e) && e.code === code;
  assert.throws(() => checkSchedule({ ...S, totalSteps: 10 }), isErr("config"));
  assert.throws(() => checkSchedule({ ...S, warmupSteps: 2.5 }), isErr("config"));
  assert.throws(() => checkSchedule({ ...S, minLr: -1 }), isErr("config"));
  assert.throws(() => lrAt(-1, S), isErr("argument"));
  assert.throws(() => lrAt(1.5, S), isErr("argument"));
});
