// CIFAR-10 and CIFAR-100, binary version (cifar-10-binary.tar.gz / cifar-100-binary.tar.gz from
// https://www.cs.toronto.edu/~kriz/cifar.html, unpacked). A record is the label byte(s) then
// 3072 pixel bytes: 1024 red, 1024 green, 1024 blue, each 32x32 row-major, i.e. already CHW.
//   CIFAR-10:  data_batch_1..5.bin, test_batch.bin; records of 1 + 3072 bytes; batches.meta.txt
//   CIFAR-100: train.bin, test.bin; records of 2 + 3072 bytes (coarse, fine; fine is used);
//              fine_label_names.txt
// DIR may be the folder with the .bin files or the folder the tarball unpacks into.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PftError } from "../errors.js";
import { imageDataset, type ImageDataset } from "./dataset.js";
import { isDir, isFile, notFound } from "./files.js";

const PIXELS = 3 * 32 * 32;

export const CIFAR10_CLASSES: readonly string[] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/** The fine label names, as in fine_label_names.txt (alphabetical). */
export const CIFAR100_CLASSES: readonly string[] = [
  "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
  "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
  "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
  "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
  "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
  "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
  "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
  "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
  "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
  "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
];

interface Variant {
  title: string;
  sub: string; // the folder the tarball unpacks into
  train: string[];
  test: string;
  labelBytes: number; // bytes before the pixels; the label used is the last of them
  names: string;
  classes: readonly string[];
  expect: string; // what the folder should hold, for the not-found message
}

const CIFAR10: Variant = {
  title: "CIFAR-10",
  sub: "cifar-10-batches-bin",
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  test: "test_batch.bin",
  labelBytes: 1,
  names: "batches.meta.txt",
  classes: CIFAR10_CLASSES,
  expect: "data_batch_1..5.bin and test_batch.bin (cifar-10-binary.tar.gz unpacked)",
};
const CIFAR100: Variant = {
  title: "CIFAR-100",
  sub: "cifar-100-binary",
  train: ["train.bin"],
  test: "test.bin",
  labelBytes: 2,
  names: "fine_label_names.txt",
  classes: CIFAR100_CLASSES,
  expect: "train.bin and test.bin (cifar-100-binary.tar.gz unpacked)",
};

/** Parses one binary batch file into images (CHW) and labels. */
export function readCifarBin(file: string, labelBytes: number, numClasses: number): { images: Uint8Array; labels: Int32Array } {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new PftError("data", `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  const rec = labelBytes + PIXELS;
  if (raw.length === 0) throw new PftError("data", `${file}: empty file`);
  if (raw.length % rec !== 0) {
    throw new PftError("data", `${file}: truncated or malformed: ${raw.length} bytes is not a whole number of ${rec}-byte records (${Math.floor(raw.length / rec)} records and ${raw.length % rec} bytes)`);
  }
  const n = raw.length / rec;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = raw[i * rec + labelBytes - 1];
    if (y >= numClasses) throw new PftError("data", `${file}: record ${i} has label ${y}, not below ${numClasses} (wrong format for this dataset?)`);
    labels[i] = y;
    images.set(raw.subarray(i * rec + labelBytes, (i + 1) * rec), i * PIXELS);
  }
  return { images, labels };
}

function loadCifar(v: Variant, dir: string, name: string): { train: ImageDataset; test: ImageDataset } {
  const where = isDir(join(dir, v.sub)) ? join(dir, v.sub) : dir;
  const files = [...v.train, v.test];
  const absent = files.filter((f) => !isFile(join(where, f)));
  if (!isDir(where) || absent.length === files.length) {
    throw notFound(v.title, dir, `expected ${v.expect}, from https://www.cs.toronto.edu/~kriz/cifar.html`);
  }
  if (absent.length) throw new PftError("data", `${v.title} at ${where} is incomplete: missing ${absent.join(", ")}`);
  const classes = readNames(join(where, v.names), v.classes);
  const read = (fs: string[], split: string): ImageDataset => {
    const parts = fs.map((f) => readCifarBin(join(where, f), v.labelBytes, classes.length));
    const n = parts.reduce((a, p) => a + p.labels.length, 0);
    const images = new Uint8Array(n * PIXELS);
    const labels = new Int32Array(n);
    let at = 0;
    for (const p of parts) {
      images.set(p.images, at * PIXELS);
      labels.set(p.labels, at);
      at += p.labels.length;
    }
    return imageDataset({ name: `${name}/${split}`, images, labels, classes, channels: 3, height: 32, width: 32 });
  };
  return { train: read(v.train, "train"), test: read([v.test], "test") };
}

/** Class names from a names file (one per line, blank lines ignored) when present, else the defaults. */
function readNames(file: string, defaults: readonly string[]): readonly string[] {
  if (!isFile(file)) return defaults;
  const names = readFileSync(file, "utf8").split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== "");
  if (names.length !== defaults.length) throw new PftError("data", `${file}: ${names.length} class names, expected ${defaults.length}`);
  return names;
}

/** CIFAR-10: 50000 train and 10000 test images, 3x32x32, 10 classes. */
export function loadCifar10(dir: string): { train: ImageDataset; test: ImageDataset } {
  return loadCifar(CIFAR10, dir, "cifar10");
}

/** CIFAR-100: 50000 train and 10000 test images, 3x32x32, 100 fine classes. */
export function loadCifar100(dir: string): { train: ImageDataset; test: ImageDataset } {
  return loadCifar(CIFAR100, dir, "cifar100");
}
