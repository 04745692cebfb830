// Streaming averaging: exact values, shared (frozen) tensors copied once, mismatches named,
// bounded native memory, and a streaming writer whose bytes equal writeSafetensors'.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor, liveTensors, scope, PftError } from "../../src/index.js";
import { writeSafetensors } from "../../src/nn/index.js";
import { VisionTransformer } from "../../src/models/index.js";
import { openIngredients, writeAverage, loadAverage, makeSoup, SafetensorsStreamWriter, RawTensorReader } from "../../src/soups/index.js";
import { tempDir } from "../helpers/reference.js";
import { TINY, tinyWeights, perturbed, writeWeights, readBytes, readValues } from "./fixtures.js";

const isCheckpointError = (re: RegExp) => (e: unknown) => e instanceof PftError && e.code === "checkpoint" && re.test(e.message);

test("the streaming writer's file is byte-identical to writeSafetensors' (same layout, header, metadata)", () => {
  const { dir, cleanup } = tempDir();
  try {
    const tensors = scope(() =>
      new Map<string, Tensor>([
        ["b.weight", Tensor.randn([3, 5]).keep()],
        ["a.10", Tensor.arange(0, 7, 1, { dtype: "int64" }).keep()],
        ["a.2", Tensor.randn([4]).to("bfloat16").keep()],
        ["é", Tensor.randn([2, 2]).double().keep()],
        ["mask", Tensor.ones([3], { dtype: "bool" }).keep()],
      ]),
    );
    const md = { format: "pt", note: "x" };
    writeSafetensors(join(dir, "ref.safetensors"), tensors, md);
    const w = SafetensorsStreamWriter.create(join(dir, "stream.safetensors"), [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })), md);
    assert.ok(!existsSync(join(dir, "stream.safetensors")), "nothing at the target before commit");
    for (const e of w.order) w.write(e.name, tensors.get(e.name)!.bytes());
    w.commit();
    assert.ok(readFileSync(join(dir, "stream.safetensors")).equals(readFileSync(join(dir, "ref.safetensors"))));
    tensors.forEach((t) => t.dispose());
  } finally {
    cleanup();
  }
});

test("a writer dropped before commit leaves nothing behind; writing out of order is refused", () => {
  const { dir, cleanup } = tempDir();
  try {
    {
      using w = SafetensorsStreamWriter.create(join(dir, "x.safetensors"), [{ name: "a", dtype: "float32", shape: [2] }, { name: "b", dtype: "float32", shape: [1] }]);
      assert.throws(() => w.write("b", new Uint8Array(4)), /'b' written where 'a' comes next/);
    }
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    cleanup();
  }
});

test("uniform soup of identical checkpoints is the checkpoint, bit for bit", () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = tinyWeights(1);
    const paths = [0, 1, 2].map((i) => writeWeights(join(dir, `c${i}.safetensors`), w));
    using set = openIngredients(paths);
    const s = writeAverage(set, join(dir, "soup.safetensors"));
    assert.deepEqual(s.differing, []);
    assert.equal(s.shared, w.size);
    const a = readBytes(paths[0]);
    const b = readBytes(join(dir, "soup.safetensors"));
    for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), k);
  } finally {
    cleanup();
  }
});

test("the average of known checkpoints is exact: the float64 mean rounded once to float32", () => {
  const { dir, cleanup } = tempDir();
  try {
    const ws = [tinyWeights(2), tinyWeights(3), tinyWeights(4)];
    const paths = ws.map((w, i) => writeWeights(join(dir, `c${i}.safetensors`), w));
    for (const count of [2, 3]) {
      using set = openIngredients(paths.slice(0, count));
      const out = join(dir, `soup${count}.safetensors`);
      const s = writeAverage(set, out);
      // LayerNorm weights (ones) and biases (zeros) start equal in every model: those are shared.
      const differs = [...ws[0].keys()].filter((k) => ws.slice(1, count).some((w) => !Buffer.from(w.get(k)!.values.buffer).equals(Buffer.from(ws[0].get(k)!.values.buffer))));
      assert.deepEqual([...s.differing].sort(), differs.sort());
      assert.ok(s.differing.length > 0 && s.shared > 0);
      const got = readValues(out);
      for (const [k, { values }] of ws[0]) {
        const g = got.get(k)!;
        for (let i = 0; i < values.length; i++) {
          let sum = 0;
          for (let j = 0; j < count; j++) sum += ws[j].get(k)!.values[i];
          const want = Math.fround(sum / count);
          if (!Object.is(g[i], want)) assert.fail(`${k}[${i}]: ${g[i]} != ${want} (mean of ${count})`);
        }
      }
    }
  } finally {
    cleanup();
  }
});

test("partial fine-tunes: tensors identical in every ingredient are copied once, and the soup names the ones that differed", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(5);
    // Ingredient 1 trains blocks.0's attention unit and the head; ingredient 2 blocks.1's FFN unit and the head.
    const trains = [/^blocks\.0\.(norm1|attn)\.|^head\./, /^blocks\.1\.(norm2|mlp)\.|^head\./];
    const ws = trains.map((re, i) => perturbed(base, 10 + i, (k) => re.test(k)));
    const paths = ws.map((w, i) => writeWeights(join(dir, `ft${i}.safetensors`), w));
    using set = openIngredients(paths);
    const s = writeAverage(set, join(dir, "soup.safetensors"));
    const expected = [...base.keys()].filter((k) => trains.some((re) => re.test(k)));
    assert.deepEqual([...s.differing].sort(), [...expected].sort());
    assert.equal(s.shared, base.size - expected.length);
    const soup = readBytes(join(dir, "soup.safetensors"));
    const pre = readBytes(writeWeights(join(dir, "pre.safetensors"), base));
    for (const [k, v] of pre) if (!expected.includes(k)) assert.ok(v.equals(soup.get(k)!), `${k} is the pretrained value`);
    // A unit trained by one ingredient only: the mean of its fine-tuned and pretrained values.
    const k = "blocks.0.attn.qkv.weight";
    const got = readValues(join(dir, "soup.safetensors")).get(k)!;
    got.forEach((g, i) => assert.equal(g, Math.fround((ws[0].get(k)!.values[i] + base.get(k)!.values[i]) / 2)));
  } finally {
    cleanup();
  }
});

test("bf16 checkpoints average to bf16", () => {
  const { dir, cleanup } = tempDir();
  try {
    const ws = [tinyWeights(6), tinyWeights(7)];
    const paths = ws.map((w, i) => writeWeights(join(dir, `c${i}.safetensors`), w, undefined, "bfloat16"));
    using set = openIngredients(paths);
    writeAverage(set, join(dir, "soup.safetensors"));
    using r = RawTensorReader.open(join(dir, "soup.safetensors"));
    assert.equal(r.entry("head.weight").dtype, "bfloat16");
    const got = readValues(join(dir, "soup.safetensors")).get("head.weight")!;
    const a = readValues(paths[0]).get("head.weight")!;
    const b = readValues(paths[1]).get("head.weight")!;
    got.forEach((g, i) => assert.ok(Math.abs(g - (a[i] + b[i]) / 2) <= Math.abs((a[i] + b[i]) / 2) * 2 ** -8 + 1e-30, `head.weight[${i}]`));
  } finally {
    cleanup();
  }
});

test("mismatched ingredients are rejected naming the first mismatching tensor and the files", () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = tinyWeights(8);
    const ok = writeWeights(join(dir, "ok.safetensors"), w, { model: "vit_a" });
    const lacks = new Map(w);
    lacks.delete("blocks.1.mlp.fc2.bias");
    const lacking = writeWeights(join(dir, "lacks.safetensors"), lacks);
    const extra = writeWeights(join(dir, "extra.safetensors"), new Map([...w, ["zz.extra", { shape: [1], values: new Float32Array(1) }]]));
    const reshaped = new Map(w);
    reshaped.set("head.bias", { shape: [4], values: new Float32Array(4) });
    const shape = writeWeights(join(dir, "shape.safetensors"), reshaped);
    const bf16 = writeWeights(join(dir, "bf16.safetensors"), w, undefined, "bfloat16");
    const other = writeWeights(join(dir, "other.safetensors"), w, { model: "vit_b" });
    assert.throws(() => openIngredients([ok, lacking]), isCheckpointError(/tensor 'blocks\.1\.mlp\.fc2\.bias' is in .*ok\.safetensors but not in .*lacks\.safetensors/));
    assert.throws(() => openIngredients([ok, extra]), isCheckpointError(/tensor 'zz\.extra' is in .*extra\.safetensors but not in .*ok\.safetensors/));
    assert.throws(() => openIngredients([ok, ok, shape]), isCheckpointError(/tensor 'head\.bias' has shape \[4\] in .*shape\.safetensors but \[3\] in .*ok\.safetensors/));
    assert.throws(() => openIngredients([ok, bf16]), isCheckpointError(/tensor '[^']+' is bfloat16 in .*bf16\.safetensors but float32 in/));
    assert.throws(() => openIngredients([ok, other]), isCheckpointError(/other\.safetensors is a vit_b checkpoint but .*ok\.safetensors is vit_a/));
    assert.throws(() => openIngredients([ok, join(dir, "missing.safetensors")]), (e: unknown) => e instanceof PftError && e.code === "io" && /missing\.safetensors/.test(e.message));
    // and through makeSoup: nothing is written
    assert.throws(() => makeSoup({ method: "uniform", checkpoints: [ok, shape], out: join(dir, "soup.safetensors"), evaluate: false }), isCheckpointError(/head\.bias/));
    assert.ok(!existsSync(join(dir, "soup.safetensors")));
  } finally {
    cleanup();
  }
});

test("integer tensors that differ cannot be averaged", () => {
  const { dir, cleanup } = tempDir();
  try {
    const write = (name: string, v: number[]) => scope(() => writeSafetensors(join(dir, name), new Map([["idx", Tensor.from(v, [v.length], { dtype: "int64" })]])));
    write("a.safetensors", [1, 2]);
    write("b.safetensors", [1, 2]);
    write("c.safetensors", [1, 3]);
    using same = openIngredients([join(dir, "a.safetensors"), join(dir, "b.safetensors")]);
    assert.deepEqual(writeAverage(same, join(dir, "ab.safetensors")).differing, []);
    using diff = openIngredients([join(dir, "a.safetensors"), join(dir, "c.safetensors")]);
    assert.throws(() => writeAverage(diff, join(dir, "ac.safetensors")), isCheckpointError(/tensor 'idx' \(int64\) differs between .*a\.safetensors and .*c\.safetensors/));
    assert.ok(!existsSync(join(dir, "ac.safetensors")));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), []);
  } finally {
    cleanup();
  }
});

test("streaming: no native tensor is held from one ingredient to the next (float32 and bf16), nothing is left behind", () => {
  const { dir, cleanup } = tempDir();
  try {
    const base = tinyWeights(9);
    for (const dtype of ["float32", "bfloat16"] as const) {
      const paths = [0, 1, 2, 3, 4, 5].map((i) => writeWeights(join(dir, `${dtype}-${i}.safetensors`), perturbed(base, 20 + i), undefined, dtype));
      using set = openIngredients(paths);
      for (const members of [[0, 1], [0, 1, 2, 3, 4, 5]]) {
        const before = liveTensors();
        let peak = 0;
        let reads = 0;
        writeAverage(set, join(dir, `soup-${dtype}.safetensors`), {
          members,
          observe: () => {
            reads++;
            peak = Math.max(peak, liveTensors() - before);
          },
        });
        assert.equal(reads, members.length * base.size, "every tensor of every ingredient was read once");
        assert.equal(peak, 0, `${dtype}: ${peak} native tensors held while averaging ${members.length} checkpoints`);
        assert.equal(liveTensors(), before, "nothing left behind");
      }
    }
    // Loading into a model: only the model's own tensors (the baseline) and, briefly, one value.
    using set = openIngredients([0, 1, 2, 3, 4, 5].map((i) => join(dir, `float32-${i}.safetensors`)));
    const model = new VisionTransformer({ ...TINY });
    const before = liveTensors();
    let peak = 0;
    loadAverage(model, set, { observe: () => (peak = Math.max(peak, liveTensors() - before)) });
    assert.ok(peak <= 1, `${peak} alive while loading a soup of 6`);
    assert.equal(liveTensors(), before);
    const want = readValues(join(dir, "soup-float32.safetensors"));
    for (const [k, v] of model.stateDict()) assert.deepEqual(v.data(), want.get(k), `${k}: loaded soup equals the written soup`);
    model.dispose();
  } finally {
    cleanup();
  }
});

test("streaming: memory holds the running sum and one tensor per side, not the checkpoints", () => {
  const { dir, cleanup } = tempDir();
  try {
    // 6 checkpoints of 4 float32 tensors of 1 MB: holding them would take 24 MB; streaming needs
    // the first ingredient's tensor, one other, the float64 sum and the float32 mean: 5 MB.
    const numel = 1 << 18;
    const w = (seed: number) => new Map([0, 1, 2, 3].map((t) => [`t${t}`, { shape: [numel], values: Float32Array.from({ length: numel }, (_, i) => Math.sin(seed * 7 + t * 3 + i)) }]));
    const paths = [0, 1, 2, 3, 4, 5].map((i) => writeWeights(join(dir, `c${i}.safetensors`), w(i)));
    using set = openIngredients(paths);
    const before = process.memoryUsage().arrayBuffers;
    let peak = 0;
    writeAverage(set, join(dir, "soup.safetensors"), { observe: () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - before)) });
    assert.ok(peak < 8 * 2 ** 20, `array buffers grew by ${(peak / 2 ** 20).toFixed(1)} MB while averaging 24 MB of checkpoints`);
    const got = readValues(join(dir, "soup.safetensors")).get("t2")!;
    const want = paths.map((_, s) => Float32Array.from({ length: 8 }, (_, i) => Math.sin(s * 7 + 6 + i)));
    for (let i = 0; i < 8; i++) assert.equal(got[i], Math.fround(want.reduce((a, v) => a + v[i], 0) / 6));
  } finally {
    cleanup();
  }
});
