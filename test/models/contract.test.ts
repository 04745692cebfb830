// The contract every registered model keeps (src/models/base.ts), checked for each entry of the
// registry rather than once per family file: forward shape, timm-style state-dict keys, the unit
// catalog covering exactly the parameters (also from a checkpoint's header), segments equal to
// forward, and loading another class count. Family files test what only their family has.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor, noGrad, manualSeed, PftError } from "../../src/index.js";
import { writeSafetensors, openSafetensors } from "../../src/nn/index.js";
import { createModel, listModels, catalogOf, catalogFromShapes, detectArch, loadPretrained, type VisionModel } from "../../src/models/index.js";
import { tempDir } from "../helpers/reference.js";

/**
 * Forward passes at 224 px and checkpoint round trips (three models, one file) run on the
 * registry's small entries; every entry gets the structural checks. The family files run one
 * 224 px forward of their base model.
 */
const SMALL = 10_000_000;
const large = (m: VisionModel) => m.countParameters() >= SMALL;
const smallPerArch = new Map<string, number>();

for (const entry of listModels()) {
  describe(`${entry.name} (${entry.arch})`, () => {
    let built: VisionModel | null = null;
    const model = (): VisionModel => {
      if (!built) {
        manualSeed(7);
        built = createModel(entry.name);
      }
      return built;
    };
    after(() => built?.dispose());

    test("forward maps [1, inChans, imageSize, imageSize] to finite [1, numClasses] logits", (t) => {
      const m = model().eval();
      if (large(m)) return t.skip("a large entry (see SMALL)");
      assert.equal(m.arch, entry.arch);
      const out = noGrad(() => m.forward(Tensor.randn([1, m.inChans, m.imageSize, m.imageSize])));
      assert.deepEqual(out.shape, [1, m.numClasses]);
      assert.ok(out.isfinite().all().item(), "finite logits");
      out.dispose();
    });

    test("state-dict keys are timm-style dotted field names, with the classifier last", () => {
      const m = model();
      const keys = [...m.stateDict().keys()];
      assert.equal(new Set(keys).size, keys.length, "no key twice");
      for (const k of keys) assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/, k);
      const params = m.namedParameters().map((n) => n.name);
      const persistent = m.namedBuffers().filter((b) => b.persistent).map((b) => b.name);
      assert.deepEqual([...keys].sort(), [...params, ...persistent].sort(), "the state dict is the parameters and persistent buffers");
      const head = m.classifierKeys();
      assert.deepEqual(keys.slice(-head.length), head, "classifierKeys() name the last keys");
      assert.equal(m.getParameter(head[0]).shape[0], m.numClasses);
      assert.equal(detectArch(keys).arch, entry.arch, "the architecture is detected from the keys");
    });

    test("the unit catalog covers every parameter exactly once, in homogeneous groups", () => {
      const m = model();
      const cat = catalogOf(m);
      assert.equal(cat.arch, entry.arch);
      const covered = [...cat.units.flatMap((u) => u.params), ...cat.others.map((o) => o.name)];
      assert.deepEqual([...covered].sort(), m.namedParameters().map((n) => n.name).sort(), "units and others partition the parameters");
      assert.equal(cat.units.reduce((s, u) => s + u.numel, 0) + cat.others.reduce((s, o) => s + o.numel, 0), cat.total);
      assert.equal(cat.total, m.countParameters());
      assert.ok(cat.groups.length > 0 && cat.units.length > 0);
      for (const g of cat.groups) {
        assert.ok(g.units.length > 0, `${g.id} has units`);
        assert.equal(new Set(g.units.map((u) => u.numel)).size, 1, `${g.id} is homogeneous`);
      }
      assert.equal(cat.groups.reduce((n, g) => n + g.units.length, 0), cat.units.length, "every unit is in one group");
    });

    test("the segments run in turn equal forward, and their parameters partition the model's", (t) => {
      const m = model().eval();
      const segs = m.segments();
      const used = segs.flatMap((s) => s.parameters);
      assert.equal(new Set(used).size, used.length, "no parameter in two segments");
      assert.equal(used.length, m.parameters().length);
      if (large(m)) return t.skip("a large entry: parameters checked, the forward skipped (see SMALL)");
      noGrad(() => {
        const x = Tensor.randn([1, m.inChans, m.imageSize, m.imageSize]);
        let h = x;
        for (const s of segs) h = s.run(h);
        assert.ok(h.allclose(m.forward(x), 1e-5, 1e-6), "segments = forward");
      });
    });

    test("small entries: the catalog from a checkpoint's header, and another class count re-initialising only the head", (t) => {
      const m = model();
      if (large(m)) return t.skip("a large entry (see SMALL)");
      smallPerArch.set(entry.arch, (smallPerArch.get(entry.arch) ?? 0) + 1);
      const { dir, cleanup } = tempDir();
      try {
        const file = join(dir, "m.safetensors");
        writeSafetensors(file, m.stateDict());
        const reader = openSafetensors(file);
        const shapes = new Map(reader.keys().map((k) => [k, reader.entry(k).shape]));
        reader.close();
        assert.equal(detectArch([...shapes.keys()]).arch, entry.arch);
        assert.deepEqual(catalogFromShapes(shapes), catalogOf(m));
      } finally {
        cleanup();
      }
      const classes = m.numClasses;
      const src = createModel(entry.name, { numClasses: classes + 2 });
      const dst = createModel(entry.name);
      try {
        const report = loadPretrained(dst, src.stateDict());
        assert.deepEqual(report.headReset, { checkpointClasses: classes + 2, modelClasses: classes });
        const head = new Set(dst.classifierKeys());
        const weight = dst.getParameter(dst.classifierKeys()[0]).shape;
        assert.deepEqual(weight, [classes, ...src.getParameter(src.classifierKeys()[0]).shape.slice(1)]);
        for (const [k, v] of dst.stateDict()) if (!head.has(k)) assert.ok(v.equal(src.stateDict().get(k)!), `${k} loaded`);
      } finally {
        src.dispose();
        dst.dispose();
      }
    });
  });
}

test("every family has small registry entries for the checkpoint contract", () => {
  const arches = new Set(listModels().map((e) => e.arch));
  assert.deepEqual([...arches].sort(), ["asmlp", "convnext", "swin", "vit"]);
  for (const arch of arches) assert.ok((smallPerArch.get(arch) ?? 0) > 0, `${arch} has an entry under ${SMALL} parameters`);
});

test("unknown model names are a clear error", () => {
  for (const name of ["vit_huge_nonexistent", "convnext_gigantic_nonexistent"]) {
    assert.throws(() => createModel(name), (e: unknown) => e instanceof PftError && e.code === "config" && new RegExp(`unknown model '${name}'`).test(e.message));
  }
});
