// Parameter-efficient baselines (Table 1): linear probing, Adapter, VPT-Deep, SSF and LoRA, applied
// to a built model from outside (module surgery; VPT-Deep wraps the ViT), trained by the same
// trainer as partial fine-tuning, counted exactly, and merged into the weights where they can be.
export { METHODS, METHOD_OPTIONS, registerMethod, methodDef, ownFlags, parseMethod, methodSpec, resolveSpec, applyMethod, addedShapes, countMethodParams, methodMetadata, methodFromMetadata, type MethodDef, type MethodOption, type MethodFlags, type MethodParamCount } from "./methods.js";
export { freezeAllBut, type Peft, type MethodSpec, type MethodName, type AdapterOptions, type VptOptions, type LoraOptions, type LoraTarget } from "./peft.js";
export { StandIn, adopt, replaceModule, findModules } from "./surgery.js";
export { applyLinear } from "./linear.js";
export { Adapter, AdaptedMlp, ADAPTER_DEFAULTS, adapterWidth, applyAdapter, adapterShapes } from "./adapter.js";
export { PromptedVit, VPT_DEFAULTS, applyVpt, vptShapes } from "./vpt.js";
export { PromptedSwin, StagePrompts, promptedSwinBlock, promptedWindowAttention } from "./vpt-swin.js";
export { SsfScaled, SSF_SITES, applySsf, ssfShapes } from "./ssf.js";
export { LoraLinear, LORA_DEFAULTS, LORA_TARGETS, applyLora, loraShapes, parseLoraTargets } from "./lora.js";
