// The model zoo: architectures, their registered configs, and the residual-unit catalog.
import "./zoo.js";
export { VisionModel, type Segment } from "./base.js";
export { buildCatalog, unitOf, naturalCompare, type Catalog, type ResidualUnit, type UnitGroup, type OtherParam, type UnitKind, type Role, type UnitRules, type UnitRule } from "./catalog.js";
export { createModel, listModels, registerModel, detectArch, catalogOf, catalogFromShapes, type ModelOverrides, type ModelEntry } from "./registry.js";
export { VisionTransformer, VIT_DEFAULTS, VIT_UNITS, type VitConfig } from "./vit.js";
export { SwinTransformer, SWIN_DEFAULTS, SWIN_UNITS, swinCheckpointFilter, type SwinConfig } from "./swin.js";
export { ConvNeXt, CONVNEXT_DEFAULTS, CONVNEXT_UNITS, convnextCheckpointFilter, type ConvNeXtConfig } from "./convnext.js";
export { AsMlp, ASMLP_DEFAULTS, ASMLP_UNITS, type AsMlpConfig } from "./asmlp.js";
export { loadPretrained, type LoadPretrainedReport } from "./pretrained.js";
