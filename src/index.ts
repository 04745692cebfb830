// pft: partial fine-tuning of vision transformers over libtorch.
export * from "./engine/index.js";
export { PftError, isPftError, type PftErrorCode } from "./errors.js";
