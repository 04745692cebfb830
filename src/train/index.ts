// Training: the config, the partial forward, the loop, evaluation and run directories.
export { trainConfig, trainBudget, lrSchedule, TRAIN_DEFAULTS, type TrainConfig, type TrainBudget } from "./config.js";
export { forwardPartial, firstTrainableSegment } from "./forward.js";
export { train, type TrainJob, type TrainResult, type EpochRecord, type Batch, type BatchSource } from "./trainer.js";
export { evaluate, type EvalResult } from "./evaluate.js";
export { loadCheckpoint, saveCheckpoint, writeFileAtomic, writeJsonAtomic, readJson, type ResumeState } from "./checkpoint.js";
export { createProgress, type Progress } from "./progress.js";
export { buildLoaders, trainTransforms, evalTransforms, type Loaders } from "./pipeline.js";
export { gradientNorms, type GradientNorms } from "./gradient-score.js";
export { runTraining, type RunOptions, type RunResult } from "./run.js";
export { selectionOf, applySelection, freezeFor, selectionLabel, type Selection, type Applied } from "./selection.js";
export {
  readManifest,
  readResult,
  readEpochs,
  readWeights,
  readTrained,
  recordedSplit,
  loadTrained,
  runDirOf,
  weightsMetadata,
  defaultPrecision,
  fileSha256,
  MANIFEST_FORMAT,
  type RunManifest,
  type RunInputs,
  type RunSplit,
  type RunResultRecord,
  type EpochLine,
  type TrainedRecord,
} from "./rundir.js";
