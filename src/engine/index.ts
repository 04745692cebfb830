// The engine's public surface: tensors, scopes, modes, nn functional ops and runtime facts.
export { Tensor, cat, stack, where, einsum, liveTensors, gcOwnedBytes, isFloatingDType } from "./tensor.js";
export type { DType, Device, Shape, Scalar, TensorOptions, TypedData } from "./tensor.js";
export { scope, scoped, inScope } from "./scope.js";
export { noGrad, enableGrad, isGradEnabled, autocast, isAutocastEnabled, type AutocastOptions } from "./modes.js";
export * as F from "./functional.js";
export {
  engineInfo,
  describeEngine,
  blasWarning,
  emptyCache,
  profile,
  setNumThreads,
  getNumThreads,
  manualSeed,
  getRngState,
  setRngState,
  type EngineInfo,
} from "./runtime.js";
