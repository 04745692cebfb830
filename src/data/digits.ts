// scikit-learn's 8x8 handwritten digits (UCI optdigits test set): 1797 images, values 0..16.
//
// The file is sklearn/datasets/data/digits.csv.gz from Debian's python3-sklearn, extracted by
// scripts/fetch-digits.sh: one row per image, 64 pixel values then the label. There is no
// official test split; ours is fixed and seed-free: the last 20% of each class in file order
// (later rows come from other writers), the rest is train.
import { join } from "node:path";
import { PftError } from "../errors.js";
import { imageDataset, subset, tailPerClass, type ImageDataset } from "./dataset.js";
import { isFile, notFound, packageRoot, readMaybeGzip } from "./files.js";

export const DIGITS_CLASSES: readonly string[] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
/** Fraction of each class held out as the fixed test split. */
export const DIGITS_TEST_FRACTION = 0.2;

/** $PFT_DIGITS, else <package root>/.cache/data/sklearn-digits/digits.csv.gz (read at call time). */
export function defaultDigitsPath(): string {
  return process.env.PFT_DIGITS || join(packageRoot(), ".cache", "data", "sklearn-digits", "digits.csv.gz");
}

/** Parses the csv (plain or gzip) into one 1x8x8 dataset, pixels scaled 0..16 -> 0..255. */
export function readDigitsCsv(file: string): ImageDataset {
  const text = new TextDecoder().decode(readMaybeGzip(file));
  const rows = text.split("\n").filter((l) => l.trim() !== "");
  if (rows.length === 0) throw new PftError("data", `${file}: no rows`);
  const images = new Uint8Array(rows.length * 64);
  const labels = new Int32Array(rows.length);
  rows.forEach((row, r) => {
    const cells = row.split(",");
    if (cells.length !== 65) throw new PftError("data", `${file}: row ${r + 1} has ${cells.length} values, expected 64 pixels and a label`);
    for (let k = 0; k < 65; k++) {
      const v = Number(cells[k]);
      const max = k < 64 ? 16 : 9;
      if (!Number.isInteger(v) || v < 0 || v > max) throw new PftError("data", `${file}: row ${r + 1}, column ${k + 1}: '${cells[k].trim()}' is not an integer in 0..${max}`);
      if (k < 64) images[r * 64 + k] = Math.round((v * 255) / 16);
      else labels[r] = v;
    }
  });
  return imageDataset({ name: "digits", images, labels, classes: DIGITS_CLASSES, channels: 1, height: 8, width: 8 });
}

/** The digits as a fixed train/test pair (see the file comment). */
export function loadDigits(file = defaultDigitsPath()): { train: ImageDataset; test: ImageDataset } {
  if (!isFile(file)) throw notFound("sklearn digits", file, "bash scripts/fetch-digits.sh extracts it from python3-sklearn (or set PFT_DIGITS)");
  const all = readDigitsCsv(file);
  const { head, tail } = tailPerClass(all, DIGITS_TEST_FRACTION);
  return { train: subset(all, head, "digits/train"), test: subset(all, tail, "digits/test") };
}
