// Seeded subsetting: validation carved from train (disjoint, complete, reproducible), N per class
// exactly, test untouched; and the JS generator the data pipeline draws from.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { classCounts, imageAt, makeSplits, perClass, randomSplit, subset, Rng, deriveSeed } from "../../src/data/index.js";
import { isPftError } from "../../src/errors.js";
import { tagOf, tagged } from "./fixtures.js";

const tags = (ds: ReturnType<typeof tagged>): number[] => Array.from({ length: ds.length }, (_, i) => tagOf(imageAt(ds, i)));

describe("splits", () => {
  const ds = tagged(300, (i) => (i * 7) % 10, 10);

  it("subset copies images and labels in the given order into a new buffer", () => {
    const s = subset(ds, [5, 2, 299]);
    assert.deepEqual(tags(s), [5, 2, 299]);
    assert.deepEqual(Array.from(s.labels), [5, 4, 3]);
    assert.notEqual(s.images.buffer, ds.images.buffer);
    assert.equal(s.images.length, 3 * 16);
  });

  it("randomSplit: val disjoint from train, together all of it, sizes exact, order kept", () => {
    const { train, val } = randomSplit(ds, 0.2, 7);
    assert.equal(val.length, 60);
    assert.equal(train.length, 240);
    const t = tags(train);
    const v = tags(val);
    assert.equal(new Set([...t, ...v]).size, 300);
    assert.ok(!v.some((i) => t.includes(i)), "val overlaps train");
    assert.deepEqual(t, [...t].sort((a, b) => a - b));
    for (let k = 0; k < train.length; k++) assert.equal(train.labels[k], ds.labels[t[k]], "label travels with its image");
    assert.equal(randomSplit(ds, 45, 7).val.length, 45, "a count works too");
  });

  it("randomSplit is reproducible per seed and differs across seeds", () => {
    const a = tags(randomSplit(ds, 30, 1).val);
    assert.deepEqual(tags(randomSplit(ds, 30, 1).val), a);
    assert.notDeepEqual(tags(randomSplit(ds, 30, 2).val), a);
    assert.notDeepEqual(a, Array.from({ length: 30 }, (_, i) => i), "not just the first images");
  });

  it("perClass: exactly N of every class, seeded, a subset of the source", () => {
    const few = perClass(ds, 4, 3);
    assert.deepEqual(classCounts(few), new Array(10).fill(4));
    assert.deepEqual(tags(perClass(ds, 4, 3)), tags(few));
    assert.notDeepEqual(tags(perClass(ds, 4, 9)), tags(few));
    for (let k = 0; k < few.length; k++) assert.equal(few.labels[k], ds.labels[tagOf(imageAt(few, k))]);
    assert.throws(() => perClass(ds, 31, 0), (e: unknown) => isPftError(e) && e.code === "data" && /class 'k0' has 30 images, fewer than the 31/.test(e.message));
  });

  it("makeSplits carves val from train only and leaves test alone", () => {
    const test = tagged(50, (i) => i % 10, 10);
    const s = makeSplits(ds, test, { seed: 5, val: 0.1, trainPerClass: 3 });
    assert.equal(s.test, test, "test is not touched");
    assert.equal(s.val!.length, 30);
    assert.deepEqual(classCounts(s.train), new Array(10).fill(3));
    const v = new Set(tags(s.val!));
    assert.ok(!tags(s.train).some((i) => v.has(i)), "few-shot train drawn from what val left");
    assert.equal(makeSplits(ds, test, {}).val, null);
    assert.deepEqual(classCounts(makeSplits(ds, test, { testPerClass: 2 }).test), new Array(10).fill(2));
    assert.throws(() => makeSplits(ds, test, { val: 300 }), (e: unknown) => isPftError(e) && e.code === "config");
    assert.throws(() => makeSplits(ds, test, { val: 2.5 }), (e: unknown) => isPftError(e) && e.code === "config");
  });
});

describe("Rng", () => {
  it("is a pure function of its seed; derived seeds separate coordinates", () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(42)));
    const b = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(42)));
    assert.deepEqual(a, b);
    assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
    assert.notEqual(deriveSeed(0, 1, 0), deriveSeed(0, 0, 1));
    assert.notEqual(deriveSeed(2 ** 40), deriveSeed(0), "high bits count");
    assert.equal(deriveSeed(3, 4, 5), deriveSeed(3, 4, 5));
  });

  it("uniforms, ints and permutations look right", () => {
    const r = new Rng(1);
    let sum = 0;
    const hist = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) {
      const u = r.next();
      assert.ok(u >= 0 && u < 1);
      sum += u;
      hist[r.int(0, 6)]++;
    }
    assert.ok(Math.abs(sum / 60000 - 0.5) < 0.01, `mean ${sum / 60000}`);
    for (const h of hist) assert.ok(Math.abs(h - 10000) < 500, `die histogram ${hist}`);
    const p = r.permutation(100);
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  });

  it("Beta(a, b) from Marsaglia-Tsang gammas has the right mean and variance (a >= 1 and a < 1)", () => {
    for (const [a, b] of [[1, 1], [0.2, 0.2], [0.8, 0.8], [2, 5]]) {
      const r = new Rng(deriveSeed(a * 10, b * 10));
      const n = 40000;
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const v = r.beta(a, b);
        assert.ok(v >= 0 && v <= 1);
        s += v;
        s2 += v * v;
      }
      const mean = s / n;
      const variance = s2 / n - mean * mean;
      const m = a / (a + b);
      const v = (a * b) / ((a + b) ** 2 * (a + b + 1));
      assert.ok(Math.abs(mean - m) < 0.01, `Beta(${a}, ${b}) mean ${mean} vs ${m}`);
      assert.ok(Math.abs(variance - v) < 0.1 * v, `Beta(${a}, ${b}) variance ${variance} vs ${v}`);
    }
  });
});
