// pft: partial fine-tuning of vision transformers over libtorch.
export * from "./engine/index.js";
export { PftError, isPftError, type PftErrorCode } from "./errors.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export * as models from "./models/index.js";
export * as data from "./data/index.js";
export * as train from "./train/index.js";
export * as partial from "./partial/index.js";
export * as peft from "./peft/index.js";
export * as soups from "./soups/index.js";
export * as robust from "./robust/index.js";
export * as study from "./study/index.js";
export * as report from "./report/index.js";
