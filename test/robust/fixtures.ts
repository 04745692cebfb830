// Small image sets for the robustness tests: real MNIST test digits (greyscale 28x28), the same
// digits painted on a colour gradient at 32x32 (CIFAR's size and channels), and a synthetic
// 10-class set with its own labels (no files).
import { imageAt, imageDataset, loadDataset, subset, type ImageDataset } from "../../src/data/index.js";

let mnistTest: ImageDataset | null = null;

/** The first n MNIST test images. */
export function mnistFew(n: number): ImageDataset {
  mnistTest ??= loadDataset("mnist").test;
  return subset(mnistTest, Array.from({ length: n }, (_, i) => i), `mnist/test[${n}]`);
}

/** MNIST digits in yellow on a red-green gradient, 3x32x32. */
export function colourFew(n: number): ImageDataset {
  const grey = mnistFew(n);
  const S = 32;
  const images = new Uint8Array(n * 3 * S * S);
  for (let i = 0; i < n; i++) {
    const g = imageAt(grey, i);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const v = g[Math.min(27, Math.max(0, y - 2)) * 28 + Math.min(27, Math.max(0, x - 2))] / 255;
        const bg = [x / S, y / S, 0.5];
        const fg = [1, 0.85, 0.1];
        for (let c = 0; c < 3; c++) images[((i * 3 + c) * S + y) * S + x] = Math.round(255 * (v * fg[c] + (1 - v) * bg[c] * 0.8));
      }
    }
  }
  return imageDataset({ name: "colour", images, labels: grey.labels, classes: grey.classes, channels: 3, height: S, width: S });
}

/** n images per class of 10 synthetic classes at size x size: class k is a bright bar at row k. */
export function bars(perClass: number, size: number, classes: readonly string[] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]): ImageDataset {
  const n = perClass * classes.length;
  const images = new Uint8Array(n * size * size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes.length;
    labels[i] = k;
    const row = Math.floor(((k + 0.5) * size) / classes.length);
    for (let x = 0; x < size; x++) images[i * size * size + row * size + x] = 200 + ((i * 7 + x) % 50);
  }
  return imageDataset({ name: "bars", images, labels, classes, channels: 1, height: size, width: size });
}
