// The nn layer's public surface: modules and layers, parameters, initializers, state-dict I/O.
export { Parameter, type NamedParameter } from "./parameter.js";
export {
  Module,
  type StateDict,
  type NamedBuffer,
  type NamedModule,
  type ShapeMismatch,
  type LoadReport,
  type LoadOptions,
  type ParamSelector,
} from "./module.js";
export {
  Linear,
  LayerNorm,
  LayerNorm2d,
  Conv2d,
  GELU,
  Identity,
  Dropout,
  DropPath,
  dropPath,
  ModuleList,
  Sequential,
  type LinearConfig,
  type LayerNormConfig,
  type Conv2dConfig,
} from "./layers.js";
export {
  truncNormal_,
  xavierUniform_,
  xavierNormal_,
  kaimingUniform_,
  kaimingNormal_,
  normal_,
  uniform_,
  zeros_,
  ones_,
  constant_,
  calculateGain,
  fanInAndOut,
  type Initializable,
  type Nonlinearity,
  type TruncNormalOptions,
  type KaimingOptions,
} from "./init.js";
export * from "./safetensors.js";
export * from "./finite.js";
