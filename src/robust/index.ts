// Robustness, out-of-distribution and computational cost (the paper's Table 4 and Fig. 5):
// ImageNet-C-style corruptions for small images, CE/mCE against a fixed reference model, OOD
// accuracy on a shifted dataset with the same classes, and per-method training/test cost.
// docs/robustness.md describes the corruptions' adaptations and the reference.
export {
  CORRUPTIONS,
  STANDARD_CORRUPTIONS,
  EXTRA_CORRUPTIONS,
  SEVERITIES,
  MIN_CORRUPTION_SIDE,
  PARAMS as CORRUPTION_PARAMS,
  corruptionInfo,
  corruptionsFor,
  corruptionRng,
  corruptImage,
  corruptDataset,
  resizeDataset,
  jpegRoundTrip,
  type CorruptionName,
  type CorruptionFamily,
  type CorruptionInfo,
  type CorruptOptions,
  type ImageShape,
} from "./corruptions.js";
export { frostTexture, FROST_TINT } from "./textures.js";
export { computeMce, type CorruptionErrors, type MceResult } from "./mce.js";
export { NearestClassMean, REFERENCE_NAME } from "./reference.js";
export { evaluateRobustness, modelClassifier, firstPerClass, robustnessRows, type Classifier, type RobustnessOptions, type RobustnessReport } from "./benchmark.js";
export { evaluateOod, sameLabelSpace, type OodResult } from "./ood.js";
export {
  COST_METHODS,
  COST_DEFAULTS,
  DEFAULT_COST_WORKER,
  measureCost,
  measureCostInProcess,
  spawnCostSample,
  standInFapft,
  costFigure,
  costTable,
  type CostOptions,
  type CostMode,
  type CostSample,
  type CostRow,
  type CostReport,
  type CostPanel,
} from "./cost.js";
