// The fixed reference model mCE is normalised by: pft's stand-in for the paper's AlexNet.
//
// A nearest-class-mean classifier on raw pixels: each class is the mean of its training images
// (pixel / 255, float64), and an image gets the class whose mean is nearest in Euclidean distance.
// It has no hyper-parameters, no training randomness and no libtorch: the same training split gives
// the same reference, bit for bit, on every machine and thread count, and it costs a second. Like
// AlexNet for ImageNet-C it is a weak, fixed, conventional baseline (clean error 18.1% on MNIST,
// 32.3% on Fashion-MNIST). It is fitted on the source dataset's training split at the corruption
// resolution and evaluated on exactly the corrupted images the models see.
import { PftError } from "../errors.js";
import { imageSize, type ImageDataset } from "../data/index.js";

export const REFERENCE_NAME = "nearest-class-mean";

export class NearestClassMean {
  readonly classes: readonly string[];
  readonly shape: readonly [number, number, number];
  /** [K, C*H*W] class means, pixel / 255 */
  readonly means: Float64Array;
  /** ||mean_k||² */
  readonly #norms: Float64Array;

  private constructor(classes: readonly string[], shape: [number, number, number], means: Float64Array) {
    this.classes = classes;
    this.shape = shape;
    this.means = means;
    const d = shape[0] * shape[1] * shape[2];
    this.#norms = new Float64Array(classes.length);
    for (let k = 0; k < classes.length; k++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += means[k * d + j] ** 2;
      this.#norms[k] = s;
    }
  }

  /** Class means of a training split (every class needs at least one image). */
  static fit(train: ImageDataset): NearestClassMean {
    const d = imageSize(train);
    const K = train.classes.length;
    const sums = new Float64Array(K * d);
    const counts = new Float64Array(K);
    for (let i = 0; i < train.length; i++) {
      const k = train.labels[i];
      counts[k]++;
      const off = i * d;
      for (let j = 0; j < d; j++) sums[k * d + j] += train.images[off + j];
    }
    for (let k = 0; k < K; k++) {
      if (counts[k] === 0) throw new PftError("data", `${train.name}: class '${train.classes[k]}' has no training image for the reference's mean`);
      for (let j = 0; j < d; j++) sums[k * d + j] /= counts[k] * 255;
    }
    return new NearestClassMean(train.classes, [train.channels, train.height, train.width], sums);
  }

  /** The predicted class of every image (ties: the lower class index). */
  predict(ds: ImageDataset): Int32Array {
    const [c, h, w] = this.shape;
    if (ds.channels !== c || ds.height !== h || ds.width !== w) {
      throw new PftError("shape", `the reference was fitted on ${c}x${h}x${w} images, ${ds.name} has ${ds.channels}x${ds.height}x${ds.width}`);
    }
    const d = c * h * w;
    const K = this.classes.length;
    const out = new Int32Array(ds.length);
    for (let i = 0; i < ds.length; i++) {
      const off = i * d;
      let best = 0;
      let bestScore = Infinity;
      for (let k = 0; k < K; k++) {
        // ||x - m||² - ||x||² = ||m||² - 2 x·m
        let dot = 0;
        for (let j = 0; j < d; j++) dot += ds.images[off + j] * this.means[k * d + j];
        const score = this.#norms[k] - (2 * dot) / 255;
        if (score < bestScore) {
          bestScore = score;
          best = k;
        }
      }
      out[i] = best;
    }
    return out;
  }

  /** Top-1 error on a dataset with the same classes. */
  error(ds: ImageDataset): number {
    const p = this.predict(ds);
    let wrong = 0;
    for (let i = 0; i < ds.length; i++) if (p[i] !== ds.labels[i]) wrong++;
    return ds.length ? wrong / ds.length : 0;
  }
}
