// Shifted renderings for out-of-distribution accuracy: stroke dilation/erosion against PyTorch's
// max pooling (erosion as the max pool of the negated image), shrinking checked by hand, labels
// kept, names and bad specs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { imageDataset } from "../../src/data/index.js";
import { parseShift, shiftDataset } from "../../src/robust/shift.js";
import { runTorch } from "../helpers/reference.js";

function randomDigits(n: number, c: number, h: number, w: number, seed: number) {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const images = Uint8Array.from({ length: n * c * h * w }, () => (next() < 0.2 ? Math.floor(next() * 256) : 0));
  return imageDataset({ name: "toy/test", images, labels: Int32Array.from({ length: n }, (_, i) => i % 3), classes: ["a", "b", "c"], channels: c, height: h, width: w });
}

test("stroke shifts equal PyTorch's max pooling (dilation) and min pooling (erosion)", () => {
  const ds = randomDigits(3, 2, 9, 7, 5);
  for (const r of [1, 2, -1]) {
    const got = shiftDataset(ds, { kind: "stroke", amount: r });
    const expect = runTorch<number[]>(
      `import json, sys, torch
d = json.load(sys.stdin)
x = torch.tensor(d["x"], dtype=torch.float32).reshape(d["shape"])
k = abs(d["r"])
f = lambda t: torch.nn.functional.max_pool2d(t, 2 * k + 1, stride=1, padding=k)
y = f(x) if d["r"] > 0 else -f(-x)
print(json.dumps(y.flatten().int().tolist()))`,
      { x: [...ds.images], shape: [3, 2, 9, 7], r },
    );
    assert.deepEqual([...got.images], expect, `radius ${r}`);
    assert.deepEqual([...got.labels], [...ds.labels]);
    assert.equal(got.name, `toy/test[stroke${r > 0 ? "+" : ""}${r}]`);
  }
});

test("scale shift: the centre stays, a constant image stays constant, a centred square shrinks", () => {
  const h = 21, w = 21;
  const img = new Uint8Array(h * w);
  for (let y = 4; y <= 16; y++) for (let x = 4; x <= 16; x++) img[y * w + x] = 200;
  const ds = imageDataset({ name: "sq", images: img, labels: Int32Array.of(0), classes: ["x"], channels: 1, height: h, width: w });
  const half = shiftDataset(ds, { kind: "scale", amount: 0.5 });
  assert.equal(half.images[10 * w + 10], 200, "the centre maps to itself");
  // Source x = 10 + (x - 10) / 0.5: the square's edge at 4..16 lands at 7..13.
  for (let x = 0; x < w; x++) assert.equal(half.images[10 * w + x], x >= 7 && x <= 13 ? 200 : 0, `row 10, column ${x}`);
  const flat = imageDataset({ name: "flat", images: new Uint8Array(h * w).fill(90), labels: Int32Array.of(0), classes: ["x"], channels: 1, height: h, width: w });
  assert.ok(shiftDataset(flat, { kind: "scale", amount: 0.7 }).images.every((v) => v === 90), "background filled with the border's mean");
});

test("parseShift accepts the documented forms and refuses the rest in one line", () => {
  assert.deepEqual(parseShift("stroke:+1"), { kind: "stroke", amount: 1 });
  assert.deepEqual(parseShift("stroke:-2"), { kind: "stroke", amount: -2 });
  assert.deepEqual(parseShift("scale:0.7"), { kind: "scale", amount: 0.7 });
  for (const bad of ["stroke:0", "stroke:1.5", "scale:1.2", "scale:0", "blur:1", "stroke"]) assert.throws(() => parseShift(bad), (e: Error) => !e.message.includes("\n") && /shift/.test(e.message), bad);
});
