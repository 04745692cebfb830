// Datasets, splits, transforms and the resumable loader. Imports only engine and errors.
export {
  imageDataset,
  imageAt,
  imageSize,
  classCounts,
  subset,
  randomSplit,
  perClass,
  makeSplits,
  type ImageDataset,
  type DatasetSplits,
  type SplitOptions,
} from "./dataset.js";
export { loadDataset, parseDatasetSpec, describeDataset, DATASET_SPECS, type LoadOptions } from "./registry.js";
export { loadMnist, loadFashionMnist, parseIdx, defaultMnistDir, FASHION_MNIST_DIR, MNIST_CLASSES, FASHION_MNIST_CLASSES } from "./idx.js";
export { loadDigits, readDigitsCsv, defaultDigitsPath, DIGITS_CLASSES, DIGITS_TEST_FRACTION } from "./digits.js";
export { loadCifar10, loadCifar100, CIFAR10_CLASSES, CIFAR100_CLASSES } from "./cifar.js";
export { loadImageFolder, readImageFolder, FOLDER_TEST_FRACTION, type FolderOptions } from "./folder.js";
export { DataLoader, applyTransforms, type LoaderOptions } from "./loader.js";
export {
  normalize,
  resize,
  toChannels,
  horizontalFlip,
  padCrop,
  randomResizedCrop,
  mixup,
  softTargets,
  IMAGENET_MEAN,
  IMAGENET_STD,
  INCEPTION_MEAN,
  INCEPTION_STD,
  type Batch,
  type BatchTransform,
  type TransformContext,
  type MixInfo,
  type MixupOptions,
  type RandomResizedCropOptions,
} from "./transforms.js";
export { Rng, deriveSeed } from "./rng.js";
export { randAugment, randomErasing, parseRandAugment, randAugmentImage, randAugmentOps, erasingBox, affine, colourOps, geometricOps, type Image, type RandAugmentConfig, type RandomErasingOptions } from "./augment.js";
