// The study's datasets: the offline datasets as the loaders give them, or, where the configuration
// asks for a fixed test subset or a smaller training pool, a copy in DIR/data/<name>/ in the
// loaders' own IDX layout (`fashion-mnist:DIR/data/...` is then an ordinary dataset spec). The
// subsets are drawn once with seed 0, so every run of the study sees the same test images.
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { PftError } from "../errors.js";
import { FASHION_MNIST_DIR, defaultMnistDir, loadDataset, perClass, type ImageDataset } from "../data/index.js";
import { writeFileAtomic } from "../train/index.js";
import type { DataRecord } from "../report/records.js";
import type { DataConfig } from "./config.js";

/** Streams of the seeded draws, apart from the loaders' own (validation, few-shot). */
const POOL_STREAM = 0x5701;
const TEST_STREAM = 0x5702;

const DESCRIPTIONS: Record<DataConfig["data"], string> = {
  mnist: "MNIST handwritten digits, 28x28 grayscale",
  "fashion-mnist": "Fashion-MNIST clothing images, 28x28 grayscale (another domain than digits)",
  digits: "sklearn 8x8 handwritten digits (UCI optdigits), upscaled to 28x28: the same concept drawn another way",
};

/** IDX bytes (uint8) of an array with these dimensions. */
export function idxBytes(dims: readonly number[], data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(head.buffer);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

function writeIdxSplit(dir: string, prefix: string, ds: ImageDataset): void {
  writeFileAtomic(join(dir, `${prefix}-images-idx3-ubyte`), idxBytes([ds.length, ds.height, ds.width], ds.images));
  writeFileAtomic(join(dir, `${prefix}-labels-idx1-ubyte`), idxBytes([ds.length], Uint8Array.from(ds.labels)));
}

function linkIdxSplit(dir: string, prefix: string, from: string): void {
  for (const kind of ["images-idx3", "labels-idx1"]) {
    const base = `${prefix}-${kind}-ubyte`;
    const src = [join(from, base), join(from, base + ".gz")].find((f) => existsSync(f));
    if (!src) throw new PftError("data", `${from}: no ${base}[.gz]`);
    const dst = join(dir, src.endsWith(".gz") ? base + ".gz" : base);
    if (!existsSync(dst)) symlinkSync(resolve(src), dst);
  }
}

export interface PreparedData {
  /** The dataset spec the runs are given. */
  spec: string;
  record: DataRecord;
}

/** Makes a dataset ready for the study (writing the subset copy if one is asked for) and describes it. */
export function prepareData(d: DataConfig, studyDir: string): PreparedData {
  let spec: string = d.data;
  if (d.testPerClass !== null || d.trainPool !== null) {
    if (d.data === "digits") throw new PftError("config", `${d.key}: testPerClass and trainPool apply to mnist and fashion-mnist`);
    const name = `${d.data}${d.trainPool !== null ? `-pool${d.trainPool}` : ""}${d.testPerClass !== null ? `-test${d.testPerClass}` : ""}`;
    const dir = resolve(studyDir, "data", name);
    const complete = join(dir, "complete.json");
    if (!existsSync(complete)) {
      mkdirSync(dir, { recursive: true });
      const from = d.data === "mnist" ? defaultMnistDir() : FASHION_MNIST_DIR;
      const full = loadDataset(d.data, {});
      if (d.trainPool !== null) writeIdxSplit(dir, "train", perClass(full.train, d.trainPool, 0, POOL_STREAM));
      else linkIdxSplit(dir, "train", from);
      if (d.testPerClass !== null) writeIdxSplit(dir, "t10k", perClass(full.test, d.testPerClass, 0, TEST_STREAM));
      else linkIdxSplit(dir, "t10k", from);
      writeFileAtomic(complete, JSON.stringify({ data: d.data, trainPool: d.trainPool, testPerClass: d.testPerClass, seed: 0 }) + "\n");
    }
    spec = `${d.data}:${dir}`;
  }
  const splits = loadDataset(spec, {});
  return {
    spec,
    record: {
      key: d.key,
      dataset: d.data,
      description: DESCRIPTIONS[d.data] + (d.trainPool !== null ? `; training pool of ${d.trainPool} per class` : ""),
      classes: splits.train.classes.length,
      trainPerClass: d.trainPerClass,
      val: d.val,
      testImages: splits.test.length,
      testPerClass: d.testPerClass,
    },
  };
}
