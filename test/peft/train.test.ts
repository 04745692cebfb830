// Each method through the same trainer as partial fine-tuning, on a tiny ViT "pretrained" on a
// synthetic texture task and fine-tuned on a relabelled version of it: it learns (far above
// chance), the frozen backbone stays bit-identical, the method's parameters and the head move, and
// a run directory's weights rebuild into the wrapped model from their metadata.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor, manualSeed, noGrad } from "../../src/index.js";
import { loadPretrained, type VisionModel } from "../../src/models/index.js";
import { readSafetensors } from "../../src/nn/index.js";
import { train, trainConfig, evaluate } from "../../src/train/index.js";
import { applyMethod, methodFromMetadata, methodSpec, type MethodSpec } from "../../src/peft/index.js";
import { tempDir } from "../helpers/reference.js";
import { quiet, snapshot, textures, tinyVit } from "./helpers.js";

// Pretraining: the whole tiny ViT on the textures, once for every test below.
const pretrained = (() => {
  manualSeed(11);
  const model = tinyVit();
  train({ model, trainable: "all", train: textures(256, 1), val: null, config: trainConfig({ epochs: 3, batchSize: 16, lr: 3e-3, warmupEpochs: 0.5, precision: "fp32" }), outDir: null, progress: quiet });
  const sd = new Map([...model.stateDict()].map(([k, v]) => [k, v.detach().clone().keep()]));
  model.dispose();
  return sd;
})();

/** The pretrained tiny ViT with a fresh head, for the relabelled task. */
function fromPretrained(seed: number): VisionModel {
  manualSeed(seed);
  const m = tinyVit();
  loadPretrained(m, pretrained);
  m.resetClassifier(3);
  return m;
}

const downstream = [2, 0, 1]; // class k of the textures is labelled downstream[k]
const cfg = trainConfig({ epochs: 2, batchSize: 16, lr: 1e-2, warmupEpochs: 0.25, weightDecay: 0, precision: "fp32" });

const SPECS: MethodSpec[] = [
  methodSpec("linear"),
  methodSpec("adapter", { adapterReduction: 4 }),
  methodSpec("vpt", { prompts: 4 }),
  methodSpec("ssf"),
  methodSpec("lora", { loraRank: 4, loraTargets: "qkv,fc1" }),
];

for (const spec of SPECS) {
  test(`${spec.method}: learns the downstream task with a bit-identical frozen backbone`, () => {
    const peft = applyMethod(fromPretrained(21), spec);
    const model = peft.model;
    const before = snapshot(model);
    const r = train({ model, trainable: peft.trainable, train: textures(192, 2, { labels: downstream }), val: textures(96, 3, { labels: downstream }), config: cfg, outDir: null, progress: quiet });
    assert.equal(r.trainable, peft.trainable.reduce((s, n) => s + model.getParameter(n).numel(), 0));
    const after = snapshot(model);
    const trainable = new Set(peft.trainable);
    for (const [k, v] of before) {
      const same = v.equals(after.get(k)!);
      // LoRA's A gets no gradient until B has moved off zero, but moves from the second step on.
      assert.equal(same, !trainable.has(k), `${spec.method}: ${k} ${same ? "did not change" : "changed"}`);
    }
    // Chance is 1/3.
    assert.ok(r.best && r.best.acc > 0.8, `${spec.method}: best validation accuracy ${r.best?.acc}`);
    model.dispose();
  });
}

for (const spec of SPECS.filter((s) => s.method !== "linear")) {
  test(`${spec.method}: its own parameters learn (the pretrained classifier frozen, the task relabelled)`, () => {
    manualSeed(41);
    const base = tinyVit();
    loadPretrained(base, pretrained);
    const peft = applyMethod(base, spec);
    const val = () => evaluate(peft.model, textures(96, 3, { labels: downstream }), false).loss;
    const before = val();
    train({ model: peft.model, trainable: peft.added, train: textures(192, 2, { labels: downstream }), val: null, config: trainConfig({ ...cfg, lr: 3e-2 }), outDir: null, progress: quiet });
    const after = val();
    assert.ok(after < 0.92 * before, `${spec.method}: validation loss ${before} -> ${after}`);
    peft.model.dispose();
  });
}

test("a run directory's weights record the method and rebuild into the wrapped model", () => {
  const d = tempDir();
  try {
    const spec = methodSpec("lora", { loraRank: 2, loraTargets: "qkv,proj" });
    const peft = applyMethod(fromPretrained(31), spec);
    train({ model: peft.model, trainable: peft.trainable, train: textures(64, 4, { labels: downstream }), val: textures(32, 5, { labels: downstream }), config: trainConfig({ epochs: 1, batchSize: 16, precision: "fp32" }), outDir: d.dir, inputs: { model: "tiny", method: spec }, progress: quiet });
    const w = readSafetensors(join(d.dir, "model.safetensors"));
    assert.equal(w.metadata.method, "lora");
    const rebuilt = applyMethod(tinyVit(), methodFromMetadata(w.metadata)!).model;
    loadPretrained(rebuilt, w.tensors);
    const x = Tensor.randn([4, 1, 8, 8]);
    const want = noGrad(() => peft.model.eval().forward(x));
    assert.ok(noGrad(() => rebuilt.eval().forward(x)).equal(want));
    const a = evaluate(peft.model, textures(32, 6, { labels: downstream }), false);
    const b = evaluate(rebuilt, textures(32, 6, { labels: downstream }), false);
    assert.deepEqual(a, b);
    rebuilt.dispose();
    peft.model.dispose();
  } finally {
    d.cleanup();
  }
});
