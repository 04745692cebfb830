// CIFAR-10/100 binary batches and PNG/JPEG folder trees, on fixtures written to a temp dir.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CIFAR100_CLASSES, CIFAR10_CLASSES, classCounts, imageAt, loadCifar10, loadDataset, readImageFolder } from "../../src/data/index.js";
import { isPftError } from "../../src/errors.js";
import { tempDir } from "../helpers/reference.js";
import { cifarBytes, pix, rgba, write, writeCifar10, writeCifar100, writeJpeg, writePng } from "./fixtures.js";

const dataErr = (re: RegExp) => (e: unknown) => isPftError(e) && e.code === "data" && re.test(e.message);

describe("CIFAR binary", () => {
  const { dir, cleanup } = tempDir("pft-cifar-");
  after(cleanup);

  it("CIFAR-10: batches concatenated in order, CHW pixels, labels, names from batches.meta.txt", () => {
    const d = join(dir, "c10");
    writeCifar10(d, 3);
    const { train, test, val } = loadDataset(`cifar10:${d}`);
    assert.equal(val, null);
    assert.deepEqual([train.length, test.length, train.channels, train.height, train.width], [15, 3, 3, 32, 32]);
    assert.deepEqual(Array.from(train.labels), Array.from({ length: 15 }, (_, k) => (3 + k) % 10)); // batch b, item i: (b*3+i)%10
    assert.deepEqual(Array.from(test.labels), [0, 3, 6]);
    // image 4 of train = batch 2, item 1 -> pixels pix(4, p); plane 1 (green) starts at 1024
    const img = imageAt(train, 4);
    assert.equal(img[0], pix(4, 0));
    assert.equal(img[1024 + 33], pix(4, 1024 + 33));
    assert.equal(imageAt(test, 2)[3071], pix(1002, 3071));
    assert.deepEqual(train.classes, ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"]);
  });

  it("CIFAR-10 without the meta file uses the standard names; the tarball's folder is found", () => {
    const d = join(dir, "c10b");
    writeCifar10(join(d, "cifar-10-batches-bin"), 1, false);
    const { train } = loadCifar10(d);
    assert.deepEqual(train.classes, CIFAR10_CLASSES);
    assert.equal(train.length, 5);
  });

  it("CIFAR-100: fine labels (not coarse), names from fine_label_names.txt or the built-in list", () => {
    const d = join(dir, "c100");
    writeCifar100(d, 7, 4);
    const { train, test } = loadDataset(`cifar100:${d}`);
    assert.deepEqual(Array.from(train.labels), Array.from({ length: 7 }, (_, i) => (i * 13) % 100));
    assert.deepEqual(Array.from(test.labels), [99, 98, 97, 96]);
    assert.equal(train.classes.length, 100);
    assert.equal(train.classes[42], "fine42");
    assert.equal(imageAt(test, 1)[5], pix(1001, 5));

    const e = join(dir, "c100b");
    writeCifar100(e, 2, 2, false);
    const { train: t2 } = loadDataset(`cifar100:${e}`);
    assert.equal(t2.classes, CIFAR100_CLASSES);
    assert.equal(new Set(CIFAR100_CLASSES).size, 100);
    assert.deepEqual([...CIFAR100_CLASSES].sort(), CIFAR100_CLASSES, "the fine names are alphabetical");
    assert.equal(CIFAR100_CLASSES[0], "apple");
    assert.equal(CIFAR100_CLASSES[99], "worm");
  });

  it("truncated files, bad labels, missing batches and missing datasets are PftError('data')", () => {
    const d = join(dir, "bad");
    writeCifar10(d, 2);
    write(join(d, "data_batch_3.bin"), cifarBytes(2, 1, () => 1).subarray(0, 3073 + 100));
    assert.throws(() => loadCifar10(d), dataErr(/data_batch_3\.bin: truncated or malformed: 3173 bytes is not a whole number of 3073-byte records/));
    write(join(d, "data_batch_3.bin"), cifarBytes(2, 1, (i) => (i ? 10 : 1)));
    assert.throws(() => loadCifar10(d), dataErr(/data_batch_3\.bin: record 1 has label 10/));
    write(join(d, "data_batch_3.bin"), cifarBytes(2, 1, () => 1));
    write(join(d, "batches.meta.txt"), "a\nb\n");
    assert.throws(() => loadCifar10(d), dataErr(/batches\.meta\.txt: 2 class names, expected 10/));

    const m = join(dir, "missing");
    writeCifar10(m, 1);
    write(join(m, "data_batch_5.bin"), "");
    assert.throws(() => loadCifar10(m), dataErr(/data_batch_5\.bin: empty file/));

    const inc = join(dir, "incomplete");
    mkdirSync(inc);
    write(join(inc, "data_batch_1.bin"), cifarBytes(1, 1, () => 0));
    assert.throws(() => loadCifar10(inc), dataErr(/is incomplete: missing data_batch_2\.bin, .*test_batch\.bin/));

    assert.throws(() => loadDataset(`cifar10:${join(dir, "nowhere")}`), dataErr(/^CIFAR-10 not found at .*nowhere: expected data_batch_1\.\.5\.bin/));
    assert.throws(() => loadDataset(`cifar100:${join(dir, "c10")}`), dataErr(/^CIFAR-100 not found at/));
  });
});

describe("image folders", () => {
  const { dir, cleanup } = tempDir("pft-folder-");
  after(cleanup);

  it("one tree: sorted class folders, PNG and JPEG, RGB CHW, fixed per-class test tail", () => {
    const d = join(dir, "tree");
    // class folders created out of order; a hidden folder and a stray file are ignored
    for (let i = 0; i < 5; i++) writePng(join(d, "zebra", `img${i}.png`), 6, 4, 10 * i);
    for (let i = 0; i < 5; i++) writeJpeg(join(d, "apple", `p${i}.JPG`), 6, 4, 50 + i);
    writePng(join(d, "mango", "sub", "deep.png"), 6, 4, 99);
    writePng(join(d, "mango", "a.png"), 6, 4, 98);
    mkdirSync(join(d, ".cache"));
    writeFileSync(join(d, "mango", "notes.txt"), "not an image");
    const { train, test, val } = loadDataset(`folder:${d}`);
    assert.deepEqual(train.classes, ["apple", "mango", "zebra"]);
    assert.equal(val, null);
    assert.deepEqual([train.channels, train.height, train.width], [3, 4, 6]);
    assert.deepEqual(classCounts(train), [4, 1, 4]);
    assert.deepEqual(classCounts(test), [1, 1, 1]);
    // mango: "a.png" sorts before "sub/deep.png" (folder then name), so deep.png is the test tail
    const mangoTest = imageAt(test, 1);
    const expect = rgba(6, 4, 99);
    assert.equal(mangoTest[0], expect[0]); // R plane, pixel (0, 0)
    assert.equal(mangoTest[5], expect[4 * 5]); // R plane, pixel (5, 0)
    assert.equal(mangoTest[24 + 6], expect[4 * 6 + 1]); // G plane, pixel (0, 1)
    assert.equal(mangoTest[48], 200); // B plane
    // JPEG at quality 100: close to the source
    const apple0 = imageAt(train, 0);
    const src = rgba(6, 4, 50);
    for (let p = 0; p < 24; p++) assert.ok(Math.abs(apple0[p] - src[4 * p]) <= 6, `JPEG red ${apple0[p]} vs ${src[4 * p]}`);
  });

  it("train/test/val layout, test labels follow train's classes; channels 1 gives luma", () => {
    const d = join(dir, "split");
    for (const c of ["b", "a"]) for (let i = 0; i < 3; i++) writePng(join(d, "train", c, `${i}.png`), 5, 5, i * 20 + (c === "a" ? 0 : 100));
    writePng(join(d, "test", "b", "0.png"), 5, 5, 7); // test has only class b
    writePng(join(d, "val", "a", "0.png"), 5, 5, 3);
    const { train, val, test } = loadDataset(`folder:${d}`, { channels: 1 });
    assert.deepEqual(train.classes, ["a", "b"]);
    assert.equal(train.channels, 1);
    assert.deepEqual(Array.from(test.labels), [1]);
    assert.deepEqual(Array.from(val!.labels), [0]);
    const luma = Math.round((7 * 299 + 0 * 587 + 200 * 114) / 1000);
    assert.equal(test.images[0], luma);
    assert.throws(() => loadDataset(`folder:${d}`, { val: 0.2 }), (e: unknown) => isPftError(e) && e.code === "config");
  });

  it("mixed sizes are an error naming the file, unless a size is given (bilinear resize)", () => {
    const d = join(dir, "sizes");
    writePng(join(d, "x", "0.png"), 8, 8, 0);
    writePng(join(d, "x", "1.png"), 4, 6, 0);
    writePng(join(d, "y", "0.png"), 8, 8, 0);
    assert.throws(() => readImageFolder(d), dataErr(/1\.png: 4x6 differs from 8x8 .*0\.png.*pass a size/));
    const ds = readImageFolder(d, { size: [4, 4] });
    assert.deepEqual([ds.length, ds.height, ds.width], [3, 4, 4]);
    // blue is constant 200 everywhere, so it stays 200 after resizing
    for (let i = 0; i < 3; i++) assert.ok(imageAt(ds, i).subarray(32, 48).every((v) => v === 200));
    // red grows with x (seed + 5x): resized rows still increase left to right
    const r = imageAt(ds, 0);
    assert.ok(r[0] < r[1] && r[1] < r[2] && r[2] < r[3], `red row ${Array.from(r.subarray(0, 4))}`);
  });

  it("errors: missing folder, empty class, undecodable image, unknown test class", () => {
    assert.throws(() => loadDataset(`folder:${join(dir, "nowhere")}`), dataErr(/^image folder not found at/));
    const e = join(dir, "empty");
    writePng(join(e, "a", "0.png"), 2, 2, 0);
    mkdirSync(join(e, "b"));
    assert.throws(() => readImageFolder(e), dataErr(/no PNG or JPEG images in class folder 'b'/));
    const bad = join(dir, "bad");
    write(join(bad, "a", "0.png"), "definitely not a png");
    assert.throws(() => readImageFolder(bad), dataErr(/0\.png: not a PNG or JPEG file/));
    const trunc = join(dir, "trunc");
    writePng(join(trunc, "a", "0.png"), 4, 4, 0);
    write(join(trunc, "a", "1.png"), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0));
    assert.throws(() => readImageFolder(trunc), dataErr(/1\.png: cannot decode image/));
    const u = join(dir, "unknown");
    writePng(join(u, "train", "a", "0.png"), 2, 2, 0);
    writePng(join(u, "test", "zz", "0.png"), 2, 2, 0);
    assert.throws(() => loadDataset(`folder:${u}`), dataErr(/class folder\(s\) zz not among the training classes/));
  });
});
