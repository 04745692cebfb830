// Optimizers, lr schedules and gradient clipping.
export { Optimizer, zerosLike, type OptimizerKind, type OptimizerStateDict, type OptimizerStateMeta, type ParamState, type HyperValue } from "./optimizer.js";
export { AdamW, ADAMW_DEFAULTS, type AdamWOptions } from "./adamw.js";
export { SGD, type SGDOptions } from "./sgd.js";
export { OptimizerGroup, paramGroupsWeightDecay, type ParamGroup } from "./param-groups.js";
export { clipGradNorm } from "./clip.js";
export { warmupCosine, constantLr, lrAt, checkSchedule, type LrSchedule, type WarmupCosineSchedule, type ConstantSchedule } from "./schedule.js";
export { layerIds, layerDecayScales, paramGroupsLayerDecay } from "./layer-decay.js";
