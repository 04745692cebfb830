// Image folder trees, as torchvision's ImageFolder: one sub-folder per class, classes in sorted
// folder-name order (names starting with "." are skipped), files found recursively in sorted
// order, .png / .jpg / .jpeg only (decoded with pngjs and jpeg-js, by content, not extension).
//
// Layouts:
//   DIR/train/<class>/..., DIR/test/<class>/... and optionally DIR/val/<class>/...
//   DIR/<class>/...  (one tree: the last 20% of each class's files is the fixed test split)
// Sizes: every image must share one size, unless `size` is given; then each image is resized to
// it (bilinear, F.interpolate) while loading. Channels: RGB (alpha dropped) as torchvision's
// loader, or `channels: 1` for luma (ITU-R 601-2, as PIL's convert("L")).
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import pngjs from "pngjs";
import jpeg from "jpeg-js";
import { PftError } from "../errors.js";
import { F, Tensor, scope } from "../engine/index.js";
import { imageDataset, subset, tailPerClass, type ImageDataset } from "./dataset.js";
import { isDir, notFound } from "./files.js";

export interface FolderOptions {
  /** Resize every image to [height, width] (or size x size) while loading; without it all must match. */
  size?: number | [number, number];
  /** 3 (RGB, default) or 1 (luma). */
  channels?: 1 | 3;
}

/** Fraction of each class held out as test when the folder has no train/test sub-folders. */
export const FOLDER_TEST_FRACTION = 0.2;

const EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/** Sorted class folder names under `dir` (torchvision's find_classes). */
export function findClasses(dir: string): string[] {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => (e.isDirectory() || (e.isSymbolicLink() && isDir(join(dir, e.name)))) && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort();
  if (names.length === 0) throw new PftError("data", `${dir}: no class folders (expected one sub-folder per class)`);
  return names;
}

/** Image files under `dir`, recursively, sorted by folder then name. */
function listImages(dir: string): string[] {
  const found: [string, string][] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory() || (e.isSymbolicLink() && isDir(p))) walk(p);
      else if (EXTENSIONS.has(extname(e.name).toLowerCase())) found.push([d, e.name]);
    }
  };
  walk(dir);
  found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return found.map(([d, f]) => join(d, f));
}

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array; // RGBA, row-major
}

/** Decodes a PNG or JPEG file to 8-bit RGBA. */
export function decodeImage(file: string): Rgba {
  const buf = readFileSync(file);
  try {
    if (buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47) {
      const png = pngjs.PNG.sync.read(buf);
      return { width: png.width, height: png.height, data: png.data };
    }
    if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8) {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (e) {
    throw new PftError("data", `${file}: cannot decode image (${(e as Error).message})`, { cause: e });
  }
  throw new PftError("data", `${file}: not a PNG or JPEG file`);
}

/** RGBA -> CHW with `channels` planes. */
function toChw(img: Rgba, channels: 1 | 3): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(channels * n);
  const d = img.data;
  for (let p = 0; p < n; p++) {
    const r = d[4 * p];
    const g = d[4 * p + 1];
    const b = d[4 * p + 2];
    if (channels === 3) {
      out[p] = r;
      out[n + p] = g;
      out[2 * n + p] = b;
    } else {
      out[p] = Math.round((r * 299 + g * 587 + b * 114) / 1000);
    }
  }
  return out;
}

/** Bilinear resize of one CHW uint8 image through F.interpolate (rounded, clamped to 0..255). */
function resizeChw(chw: Uint8Array, c: number, h: number, w: number, oh: number, ow: number): Uint8Array {
  if (h === oh && w === ow) return chw;
  return scope(() => {
    const x = Tensor.fromBytes(chw, [1, c, h, w], "uint8").to("float32");
    return F.interpolate(x, [oh, ow], "bilinear").round().clamp(0, 255).to("uint8").bytes();
  });
}

/**
 * One class tree as a dataset. `classes` fixes the class list (a test tree is read with the
 * train tree's classes, so labels agree); a folder not in it is an error.
 */
export function readImageFolder(dir: string, opts: FolderOptions = {}, name = dir, classes?: readonly string[]): ImageDataset {
  const found = findClasses(dir);
  const cls = classes ?? found;
  const unknown = found.filter((c) => !cls.includes(c));
  if (unknown.length) throw new PftError("data", `${dir}: class folder(s) ${unknown.join(", ")} not among the training classes`);
  const channels = opts.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new PftError("config", `image folder: channels must be 1 or 3, got ${channels}`);
  const size = opts.size === undefined ? null : typeof opts.size === "number" ? [opts.size, opts.size] : opts.size;
  if (size && !size.every((v) => Number.isInteger(v) && v > 0)) throw new PftError("config", `image folder: size must be positive integers, got ${String(opts.size)}`);

  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  let hw: [number, number, string] | null = size ? [size[0], size[1], ""] : null;
  for (const c of found) {
    const files = listImages(join(dir, c));
    if (files.length === 0) throw new PftError("data", `${join(dir, c)}: no PNG or JPEG images in class folder '${c}'`);
    for (const f of files) {
      const img = decodeImage(f);
      let chw = toChw(img, channels);
      if (size) chw = resizeChw(chw, channels, img.height, img.width, size[0], size[1]);
      else if (hw === null) hw = [img.height, img.width, f];
      else if (hw[0] !== img.height || hw[1] !== img.width) {
        throw new PftError("data", `${f}: ${img.width}x${img.height} differs from ${hw[1]}x${hw[0]} (${hw[2]}); pass a size to resize while loading`);
      }
      chunks.push(chw);
      labels.push(cls.indexOf(c));
    }
  }
  const [height, width] = hw!;
  const per = channels * height * width;
  const images = new Uint8Array(chunks.length * per);
  chunks.forEach((ch, i) => images.set(ch, i * per));
  return imageDataset({ name, images, labels: Int32Array.from(labels), classes: cls, channels, height, width });
}

/** A folder dataset in either layout (see the file comment). */
export function loadImageFolder(dir: string, opts: FolderOptions = {}): { train: ImageDataset; val: ImageDataset | null; test: ImageDataset } {
  if (!isDir(dir)) throw notFound("image folder", dir, "expected DIR/<class>/*.png|jpg or DIR/{train,test}/<class>/...");
  const name = `folder:${dir}`;
  if (isDir(join(dir, "train"))) {
    if (!isDir(join(dir, "test"))) throw new PftError("data", `${dir}: has train/ but no test/ folder`);
    const train = readImageFolder(join(dir, "train"), opts, `${name}/train`);
    const other = (split: string): ImageDataset => {
      const ds = readImageFolder(join(dir, split), opts, `${name}/${split}`, train.classes);
      if (ds.height !== train.height || ds.width !== train.width) {
        throw new PftError("data", `${join(dir, split)}: images are ${ds.width}x${ds.height} but train/ has ${train.width}x${train.height}; pass a size to resize while loading`);
      }
      return ds;
    };
    return { train, val: isDir(join(dir, "val")) ? other("val") : null, test: other("test") };
  }
  const all = readImageFolder(dir, opts, name);
  const { head, tail } = tailPerClass(all, FOLDER_TEST_FRACTION);
  return { train: subset(all, head, `${name}/train`), val: null, test: subset(all, tail, `${name}/test`) };
}
