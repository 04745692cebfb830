// CE and mCE on constructed errors, against numbers computed by hand; the nearest-class-mean
// reference; and the benchmark end to end on a few MNIST digits with stub classifiers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { imageDataset } from "../../src/data/index.js";
import {
  EXTRA_CORRUPTIONS,
  NearestClassMean,
  REFERENCE_NAME,
  STANDARD_CORRUPTIONS,
  computeMce,
  evaluateRobustness,
  resizeDataset,
  robustnessRows,
  type CorruptionErrors,
} from "../../src/robust/index.js";
import { mnistFew } from "./fixtures.js";

const close = (a: number, b: number, what = "") => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test("mCE: CE_c = sum_s E / sum_s E_ref, mean over the 15 standard types; extras excluded", () => {
  // corruption k (0..14): the model errs 0.01 (k + 1) at every severity but severity 5, where it
  // errs 0.02 (k + 1); the reference errs 0.1, 0.2, 0.3, 0.4, 0.5 (sum 1.5) on all of them.
  const model: CorruptionErrors = { clean: 0.01, errors: {} };
  const ref: CorruptionErrors = { clean: 0.05, errors: {} };
  STANDARD_CORRUPTIONS.forEach((n, k) => {
    const u = 0.01 * (k + 1);
    model.errors[n] = [u, u, u, u, 2 * u];
    ref.errors[n] = [0.1, 0.2, 0.3, 0.4, 0.5];
  });
  for (const n of EXTRA_CORRUPTIONS) {
    model.errors[n] = [0.9, 0.9, 0.9, 0.9, 0.9];
    ref.errors[n] = [0.1, 0.1, 0.1, 0.1, 0.1];
  }
  const r = computeMce(model, ref);
  // by hand: CE_k = 6 u_k / 1.5 = 0.04 (k + 1); mean over k = 0.04 * 8 = 0.32
  STANDARD_CORRUPTIONS.forEach((n, k) => close(r.ce[n]!, 0.04 * (k + 1), n));
  close(r.mce, 0.32, "mCE");
  // the extras get a CE (9) but do not move the mean
  close(r.ce.gaussian_blur!, 9, "extra CE");
  // relative: sum_s (E - 0.01) / sum_s (E_ref - 0.05) = (6 u_k - 0.05) / 1.25
  const rel = STANDARD_CORRUPTIONS.map((_, k) => (6 * 0.01 * (k + 1) - 0.05) / 1.25);
  close(r.relativeMce!, rel.reduce((a, b) => a + b, 0) / 15, "relative mCE");
  // unnormalised mean error over the 75 standard sets: mean_k 6 u_k / 5 = 0.012 * 8
  close(r.meanError, 0.096, "mean error");
  // SSF's formula: mean over the 75 (type, severity) pairs of E / mean_s E_ref gives the same mCE
  let ssf = 0;
  for (const n of STANDARD_CORRUPTIONS) for (const e of model.errors[n]!) ssf += e / (ref.errors[n]!.reduce((a, b) => a + b, 0) / 5);
  close(ssf / 75, r.mce, "SSF's per-severity average");
});

test("mCE refuses missing types, wrong lengths and a reference without errors", () => {
  const full = (v: number): CorruptionErrors => ({ clean: 0, errors: Object.fromEntries(STANDARD_CORRUPTIONS.map((n) => [n, [v, v, v, v, v]])) });
  const missing = full(0.1);
  delete missing.errors.fog;
  assert.throws(() => computeMce(missing, full(0.2)), /fog/);
  const short = full(0.1);
  short.errors.snow = [0.1, 0.1];
  assert.throws(() => computeMce(short, full(0.2)), /snow/);
  assert.throws(() => computeMce(full(0.1), full(0)), /reference makes no error/);
  const r = computeMce(full(0.1), full(0.2));
  close(r.mce, 0.5);
});

test("nearest class mean: class means of the training images, nearest in Euclidean distance", () => {
  // 2x1 images: class a around (10, 200), class b around (200, 10)
  const train = imageDataset({ name: "t", images: Uint8Array.of(0, 200, 20, 200, 200, 0, 200, 20), labels: Int32Array.of(0, 0, 1, 1), classes: ["a", "b"], channels: 1, height: 1, width: 2 });
  const ncm = NearestClassMean.fit(train);
  close(ncm.means[0], 10 / 255);
  close(ncm.means[3], 10 / 255);
  const test_ = imageDataset({ name: "q", images: Uint8Array.of(90, 100, 120, 100, 255, 255), labels: Int32Array.of(0, 1, 1), classes: ["a", "b"], channels: 1, height: 1, width: 2 });
  assert.deepEqual([...ncm.predict(test_)], [0, 1, 0]); // a tie goes to the lower class
  close(ncm.error(test_), 1 / 3);
  assert.throws(() => ncm.predict(mnistFew(1)), /fitted on 1x1x2/);
});

test("evaluateRobustness: every type and severity on the same images, CE against the reference", () => {
  const train = mnistFew(200);
  const test_ = mnistFew(300);
  const constant = { error: () => 0.25 };
  const report = evaluateRobustness({ constant }, { train, test: test_ }, { perClass: 2, seed: 0 });
  assert.equal(report.n, 20);
  assert.equal(report.perClass, 2);
  assert.deepEqual(report.resolution, [1, 28, 28]);
  assert.deepEqual(report.corruptions, STANDARD_CORRUPTIONS);
  assert.equal(report.reference.name, REFERENCE_NAME);
  const m = report.models.constant;
  assert.equal(m.clean, 0.25);
  for (const n of STANDARD_CORRUPTIONS) {
    const refSum = report.reference.errors.errors[n]!.reduce((a, b) => a + b, 0);
    close(m.ce[n]!, 1.25 / refSum, n);
  }
  const rows = robustnessRows(report);
  assert.equal(rows.length, 1);
  close(rows[0].cleanAcc, 75);
  close(rows[0].mce, m.mce * 100);
  // the reference evaluated as a model against itself has CE 1 everywhere
  const ncm = NearestClassMean.fit(train);
  const self = evaluateRobustness({ ncm: { error: (ds) => ncm.error(ds) } }, { train, test: test_ }, { perClass: 2, corruptions: STANDARD_CORRUPTIONS });
  close(self.models.ncm.mce, 1, "self mCE");
  // tiny images must be given the resolution to corrupt at
  const tiny = resizeDataset(train, 8);
  assert.throws(() => evaluateRobustness({ constant }, { train: tiny, test: resizeDataset(test_, 8) }, { perClass: 1 }), /option size/);
});
