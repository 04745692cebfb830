// Out-of-distribution evaluation on a tiny fixture: a tiny ViT for 8x8 images evaluated on
// 12x12 "bars" with the same classes (resized by the evaluation pipeline), and a label-space check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DataLoader } from "../../src/data/index.js";
import { manualSeed } from "../../src/engine/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import { evaluate, evalTransforms } from "../../src/train/index.js";
import { evaluateOod, modelClassifier, sameLabelSpace } from "../../src/robust/index.js";
import { bars } from "./fixtures.js";

const tinyVit = () => new VisionTransformer({ imageSize: 8, patchSize: 4, inChans: 1, embedDim: 16, depth: 1, numHeads: 2, numClasses: 10 });

test("evaluateOod: the shifted split through the evaluation pipeline, the model's head as is", () => {
  manualSeed(0);
  const model = tinyVit();
  const target = bars(3, 12);
  const r = evaluateOod(model, target, { sourceClasses: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], batchSize: 7 });
  assert.equal(r.dataset, "bars");
  assert.equal(r.n, 30);
  assert.ok(r.acc >= 0 && r.acc <= 1 && Number.isFinite(r.loss));
  const direct = evaluate(model, new DataLoader(target, { batchSize: 30, transforms: evalTransforms(target, model) }), false);
  assert.equal(r.acc, direct.acc);
  assert.ok(Math.abs(r.loss - direct.loss) < 1e-5);
  assert.ok(Math.abs(1 - modelClassifier(model).error(target) - r.acc) < 1e-12);
  model.dispose();
});

test("evaluateOod refuses a different label space", () => {
  const model = tinyVit();
  const letters = bars(1, 8, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]);
  assert.throws(() => evaluateOod(model, letters, { sourceClasses: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] }), /label space/);
  assert.ok(sameLabelSpace(["T-shirt/top", "Bag"], [" t-shirt/top", "bag"]));
  assert.ok(!sameLabelSpace(["0", "1"], ["1", "0"]));
  assert.ok(!sameLabelSpace(["0"], ["0", "1"]));
  model.dispose();
});
