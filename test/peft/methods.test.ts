// The methods on tiny models: what they leave unchanged at initialisation, merging, VPT-Deep's
// token count, segments vs forward, state-dict keys, rebuilding from metadata, removal, options.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor, F, manualSeed, noGrad, PftError } from "../../src/index.js";
import { SwinTransformer, VisionTransformer, loadPretrained, type VisionModel } from "../../src/models/index.js";
import { readSafetensors, writeSafetensors } from "../../src/nn/index.js";
import { forwardPartial } from "../../src/train/index.js";
import {
  applyMethod,
  addedShapes,
  methodFromMetadata,
  methodMetadata,
  methodSpec,
  resolveSpec,
  PromptedVit,
  StandIn,
  type MethodSpec,
} from "../../src/peft/index.js";
import { tempDir } from "../helpers/reference.js";
import { perturb, relErr, tinyVit } from "./helpers.js";

const SPECS: MethodSpec[] = [
  methodSpec("linear"),
  methodSpec("adapter", { adapterReduction: 4 }),
  methodSpec("vpt", { prompts: 3 }),
  methodSpec("ssf"),
  methodSpec("lora", { loraRank: 2, loraAlpha: 4, loraTargets: "qkv,proj,fc1,fc2" }),
];

const logits = (m: VisionModel, x: Tensor) => noGrad(() => m.eval().forward(x));
const input = () => Tensor.randn([4, 1, 8, 8]);
const keysOf = (m: VisionModel) => m.namedParameters().map((n) => n.name);

test("at initialisation Adapter and LoRA leave the model's output bit-exact", () => {
  for (const spec of [methodSpec("adapter", { adapterReduction: 4 }), methodSpec("lora", { loraRank: 4, loraTargets: "qkv,proj,fc1,fc2" })]) {
    manualSeed(1);
    const model = tinyVit();
    const x = input();
    const before = logits(model, x);
    const peft = applyMethod(model, spec);
    assert.equal(peft.model, model, "module surgery keeps the model object");
    assert.ok(logits(peft.model, x).equal(before), `${spec.method}: output changed at initialisation`);
    peft.model.dispose();
  }
});

test("SSF and LoRA merged into the weights give the same logits as unmerged, and a plain model", () => {
  for (const spec of [methodSpec("ssf"), methodSpec("lora", { loraRank: 3, loraAlpha: 6, loraTargets: "qkv,proj,fc1,fc2" })]) {
    manualSeed(2);
    const model = tinyVit();
    const plainKeys = keysOf(model);
    const x = input();
    const peft = applyMethod(model, spec);
    assert.ok(peft.mergeable);
    perturb(model, peft.added, 0.2); // LoRA's B starts at zero: make the update matter
    const unmerged = logits(model, x);
    const merged = peft.merge();
    assert.equal(merged, model);
    assert.ok(!merged.modules().some((m) => m instanceof StandIn), "no stand-in left");
    assert.deepEqual(keysOf(merged), plainKeys, "merged model has exactly the plain keys");
    const err = relErr(logits(merged, x), unmerged);
    assert.ok(err < 1e-5, `${spec.method}: merged logits differ, relative error ${err}`);
    // The merged weights are an ordinary checkpoint.
    const fresh = tinyVit();
    loadPretrained(fresh, merged.stateDict());
    assert.ok(relErr(logits(fresh, x), unmerged) < 1e-5);
    assert.throws(() => peft.merge(), /already merged/);
    fresh.dispose();
    merged.dispose();
  }
});

test("Adapter and VPT-Deep do not merge", () => {
  for (const spec of [methodSpec("adapter"), methodSpec("vpt", { prompts: 2 })]) {
    const peft = applyMethod(tinyVit(), spec);
    assert.equal(peft.mergeable, false);
    assert.throws(() => peft.merge(), (e: unknown) => e instanceof PftError && e.code === "config");
    peft.model.dispose();
  }
});

test("VPT-Deep changes the token count only inside the encoder", () => {
  manualSeed(3);
  const base = tinyVit();
  const x = input();
  const plainFeatures = noGrad(() => base.eval().forwardFeatures(x)).shape;
  const peft = applyMethod(base, methodSpec("vpt", { prompts: 5 }));
  const model = peft.model as PromptedVit;
  assert.ok(model instanceof PromptedVit);
  const seen: number[] = [];
  for (const blk of base.blocks) {
    const forward = blk.forward.bind(blk);
    const attnBranch = blk.attnBranch.bind(blk);
    blk.forward = (h: Tensor) => (seen.push(h.shape[1]), forward(h));
    blk.attnBranch = (h: Tensor) => (seen.push(h.shape[1]), attnBranch(h));
  }
  const out = logits(model, x);
  // cls + 5 prompts + 4 patches at every block input (forward, then attnBranch inside it).
  assert.deepEqual(seen, [10, 10, 10, 10]);
  assert.deepEqual(out.shape, [4, 3]);
  assert.deepEqual(noGrad(() => model.forwardFeatures(x)).shape, plainFeatures, "features as the plain ViT's");
  seen.length = 0;
  const viaSegments = noGrad(() => forwardPartial(model, x));
  assert.deepEqual(seen, [10, 10], "the segments insert the prompts too");
  assert.ok(relErr(viaSegments, out) < 1e-6);
  model.dispose();
});

test("every method's segments equal its forward, and gradients reach exactly its trainable parameters", () => {
  for (const spec of SPECS) {
    manualSeed(4);
    const peft = applyMethod(tinyVit(), spec);
    const model = peft.model.eval();
    perturb(model, peft.added, 0.05);
    const x = input();
    const y = Tensor.from([0, 1, 2, 0], [4], { dtype: "int64" });
    const whole = logits(model, x);
    const partial = forwardPartial(model, x);
    assert.ok(relErr(partial, whole) < 1e-6, `${spec.method}: segments differ from forward`);
    F.crossEntropy(partial, y).backward();
    const withGrad = model.namedParameters().filter((n) => n.param.grad !== null).map((n) => n.name);
    assert.deepEqual(withGrad, peft.trainable, `${spec.method}: gradients`);
    for (const n of peft.added) assert.ok(model.getParameter(n).grad!.abs().sum().item() > 0, `${spec.method}: ${n} gets a gradient`);
    model.dispose();
  }
});

test("pretrained keys are kept, the method's are added as addedShapes says, and the weights rebuild from metadata", () => {
  const d = tempDir();
  try {
    for (const spec of SPECS) {
      manualSeed(5);
      const base = tinyVit();
      const baseShapes = new Map(base.namedParameters().map((n) => [n.name, n.param.shape]));
      const peft = applyMethod(base, spec);
      const model = peft.model;
      const shapes = new Map(model.namedParameters().map((n) => [n.name, n.param.shape]));
      for (const [k, s] of baseShapes) assert.deepEqual(shapes.get(k), s, `${spec.method}: ${k} kept`);
      const extra = new Map([...shapes].filter(([k]) => !baseShapes.has(k)));
      assert.deepEqual(extra, addedShapes(baseShapes, spec), `${spec.method}: added parameters`);
      assert.deepEqual([...extra.keys()].sort(), [...peft.added].sort());
      assert.deepEqual(peft.trainable.sort(), [...peft.added, "head.weight", "head.bias"].sort());
      assert.deepEqual(model.trainableParameters().map((n) => n.name).sort(), peft.trainable, "apply leaves exactly these trainable");

      perturb(model, peft.trainable, 0.1);
      const x = input();
      const want = logits(model, x);
      const file = join(d.dir, `${spec.method}.safetensors`);
      writeSafetensors(file, model.stateDict(), { model: "tiny", ...(spec.method === "linear" ? {} : methodMetadata(spec)) });
      const w = readSafetensors(file);
      const rebuilt = methodFromMetadata(w.metadata);
      assert.deepEqual(rebuilt, spec.method === "linear" ? null : spec);
      const fresh = rebuilt ? applyMethod(tinyVit(), rebuilt).model : tinyVit();
      loadPretrained(fresh, w.tensors); // strict
      assert.ok(logits(fresh, x).equal(want), `${spec.method}: rebuilt model differs`);
      fresh.dispose();
      model.dispose();
    }
  } finally {
    d.cleanup();
  }
});

test("remove() gives back the plain model with its original weights and output", () => {
  for (const spec of SPECS) {
    manualSeed(6);
    const base = tinyVit();
    const keys = keysOf(base);
    const x = input();
    const before = logits(base, x);
    const peft = applyMethod(base, spec);
    perturb(peft.model, peft.added, 0.1);
    const plain = peft.remove();
    assert.equal(plain, base);
    assert.deepEqual(keysOf(plain), keys);
    assert.ok(logits(plain, x).equal(before), `${spec.method}: output after remove`);
    assert.throws(() => peft.remove(), /already/);
    plain.dispose();
  }
});

test("LoRA, Adapter and SSF apply to Swin too (VPT-Deep on Swin: vpt-swin.test.ts)", () => {
  manualSeed(7);
  const swin = () => new SwinTransformer({ imageSize: 16, patchSize: 2, inChans: 1, embedDim: 8, depths: [2, 2], numHeads: [2, 2], windowSize: 4, numClasses: 3, dropPathRate: 0 });
  const x = Tensor.randn([2, 1, 16, 16]);
  for (const spec of [methodSpec("adapter", { adapterReduction: 4 }), methodSpec("lora", { loraTargets: "qkv,fc2" }), methodSpec("ssf")]) {
    const model = swin();
    const before = logits(model, x);
    const shapes = new Map(model.namedParameters().map((n) => [n.name, n.param.shape]));
    const peft = applyMethod(model, spec);
    assert.ok(peft.added.length > 0);
    assert.deepEqual(new Map(peft.added.map((n) => [n, model.getParameter(n).shape])), addedShapes(shapes, spec), `${spec.method} on swin`);
    if (spec.method !== "ssf") assert.ok(logits(model, x).equal(before), `${spec.method} on swin: output unchanged at init`);
    model.dispose();
  }
});

test("methods and options are checked", () => {
  const bad = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof PftError && re.test(e.message));
  bad(() => methodSpec("prefix"), /unknown method 'prefix'/);
  bad(() => methodSpec("adapter", { prompts: 10 }), /--prompts is for vpt, not adapter/);
  bad(() => methodSpec("adapter", { adapterReduction: 0 }), /reduction factor/);
  bad(() => methodSpec("vpt", { prompts: 1.5 }), /number of prompts/);
  bad(() => methodSpec("lora", { loraTargets: "qkv,out" }), /unknown target 'out'/);
  bad(() => methodSpec("lora", { loraRank: 0 }), /rank/);
  bad(() => resolveSpec({ method: "ssf", scale: 1 }), /ssf has no option 'scale'/);
  bad(() => methodFromMetadata({ method: "lora", methodOptions: "{" }), /unreadable options/);
  assert.deepEqual(methodSpec("VPT-Deep"), { method: "vpt", prompts: 50 });
  assert.deepEqual(methodSpec("adapter"), { method: "adapter", reduction: 64 });
  assert.deepEqual(methodSpec("lora", { loraTargets: "fc1, qkv" }), { method: "lora", rank: 8, alpha: 8, targets: ["qkv", "fc1"] });
  assert.equal(methodFromMetadata({ model: "x" }), null);
  const model = tinyVit();
  const peft = applyMethod(model, methodSpec("lora"));
  bad(() => applyMethod(model, methodSpec("ssf")), /already carries/);
  bad(() => applyMethod(peft.model, methodSpec("vpt")), /already carries/);
  const vpt = applyMethod(tinyVit(), methodSpec("vpt", { prompts: 2 }));
  bad(() => applyMethod(vpt.model, methodSpec("adapter")), /already carries/);
  model.dispose();
  vpt.model.dispose();
});

test("VPT-Deep keeps the ViT's checkpoint API: head reset, weight decay, no VisionTransformer fork", () => {
  const base = tinyVit(3);
  const peft = applyMethod(base, methodSpec("vpt", { prompts: 2 }));
  const model = peft.model as PromptedVit;
  assert.ok(!(model instanceof VisionTransformer));
  assert.equal(model.vit, base);
  assert.ok(model.noWeightDecay().has("prompt_embeddings"));
  model.resetClassifier(7);
  assert.equal(model.numClasses, 7);
  assert.deepEqual(model.getParameter("head.weight").shape, [7, 16]);
  assert.deepEqual(logits(model, input()).shape, [4, 7]);
  model.dispose();
});
