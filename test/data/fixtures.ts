// Tiny dataset files written into temp dirs: IDX (plain and gzip), CIFAR binaries, digits csv,
// PNG/JPEG folder trees, and in-memory datasets whose images carry their own index.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import pngjs from "pngjs";
import jpeg from "jpeg-js";
import { imageDataset, type ImageDataset } from "../../src/data/index.js";

/** An IDX uint8 file's bytes. */
export function idxBytes(dims: number[], data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  const v = new DataView(head.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

export function write(file: string, bytes: Uint8Array | string, gzip = false): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, gzip ? gzipSync(bytes) : bytes);
  return file;
}

/** Pixel value of image i at flat offset p (deterministic, varied). */
export const pix = (i: number, p: number): number => (i * 37 + p * 11 + ((i * p) % 7)) & 0xff;

/** Writes an MNIST-layout dir: train (nTrain) and t10k (nTest), h x w, labels i % 10. */
export function writeIdxDir(dir: string, nTrain: number, nTest: number, h = 4, w = 5, gzip = false): void {
  for (const [prefix, n] of [["train", nTrain], ["t10k", nTest]] as const) {
    const img = new Uint8Array(n * h * w);
    for (let i = 0; i < n; i++) for (let p = 0; p < h * w; p++) img[i * h * w + p] = pix(i, p);
    const lab = Uint8Array.from({ length: n }, (_, i) => i % 10);
    const ext = gzip ? ".gz" : "";
    write(join(dir, `${prefix}-images-idx3-ubyte${ext}`), idxBytes([n, h, w], img), gzip);
    write(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), idxBytes([n], lab), gzip);
  }
}

/** CIFAR records: labelBytes leading bytes (coarse = 99 - fine for CIFAR-100), then pixels pix(base + i, p). */
export function cifarBytes(n: number, labelBytes: 1 | 2, label: (i: number) => number, base = 0): Uint8Array {
  const rec = labelBytes + 3072;
  const out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    if (labelBytes === 2) out[i * rec] = 19 - (label(i) % 20); // coarse: something else, must be ignored
    out[i * rec + labelBytes - 1] = label(i);
    for (let p = 0; p < 3072; p++) out[i * rec + labelBytes + p] = pix(base + i, p);
  }
  return out;
}

/** A CIFAR-10 binary dir with `per` images in each of the 5 train batches and the test batch. */
export function writeCifar10(dir: string, per = 3, meta = true): void {
  for (let b = 1; b <= 5; b++) write(join(dir, `data_batch_${b}.bin`), cifarBytes(per, 1, (i) => (b * per + i) % 10, (b - 1) * per));
  write(join(dir, "test_batch.bin"), cifarBytes(per, 1, (i) => (i * 3) % 10, 1000));
  if (meta) write(join(dir, "batches.meta.txt"), ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "", ""].join("\n"));
}

export function writeCifar100(dir: string, nTrain = 7, nTest = 4, names = true): void {
  write(join(dir, "train.bin"), cifarBytes(nTrain, 2, (i) => (i * 13) % 100));
  write(join(dir, "test.bin"), cifarBytes(nTest, 2, (i) => 99 - i, 1000));
  if (names) write(join(dir, "fine_label_names.txt"), Array.from({ length: 100 }, (_, k) => `fine${k}`).join("\n") + "\n");
}

/** An RGBA buffer for a w x h image whose pixel (x, y) has r = seed + x, g = y * 10, b = 200, a = 255. */
export function rgba(w: number, h: number, seed: number): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = 4 * (y * w + x);
      d[o] = (seed + x * 5) & 0xff;
      d[o + 1] = (y * 10) & 0xff;
      d[o + 2] = 200;
      d[o + 3] = 255;
    }
  }
  return d;
}

export function writePng(file: string, w: number, h: number, seed: number): void {
  const png = new pngjs.PNG({ width: w, height: h });
  png.data = Buffer.from(rgba(w, h, seed));
  write(file, pngjs.PNG.sync.write(png));
}

export function writeJpeg(file: string, w: number, h: number, seed: number): void {
  write(file, jpeg.encode({ width: w, height: h, data: Buffer.from(rgba(w, h, seed)) }, 100).data);
}

/** A digits csv: row r has pixels (r + k) % 17 and label r % 10. */
export function digitsCsv(rows: number): string {
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) lines.push([...Array.from({ length: 64 }, (_, k) => (r + k) % 17), r % 10].join(","));
  return lines.join("\n") + "\n";
}

/**
 * n images of c x h x w (h*w >= 2) with labels from `label`; image i's first two bytes hold i
 * (little-endian) so tests can tell which image ended up where.
 */
export function tagged(n: number, label: (i: number) => number, numClasses: number, c = 1, h = 4, w = 4): ImageDataset {
  const per = c * h * w;
  const images = new Uint8Array(n * per);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < per; p++) images[i * per + p] = pix(i, p);
    images[i * per] = i & 0xff;
    images[i * per + 1] = (i >> 8) & 0xff;
  }
  const classes = Array.from({ length: numClasses }, (_, k) => `k${k}`);
  return imageDataset({ name: "tagged", images, labels: Int32Array.from({ length: n }, (_, i) => label(i)), classes, channels: c, height: h, width: w });
}

/** The index stored in a tagged image's first two bytes. */
export const tagOf = (img: ArrayLike<number>): number => img[0] + 256 * img[1];
