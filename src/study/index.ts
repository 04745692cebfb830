// `pft study`: the paper's experiments end to end (pretraining, full fine-tuning, angles, FAPFT,
// the manual strategies, the baselines, angle-ranking consistency, the top-k ablation, soups,
// robustness, computational cost), resumable run by run, ending in DIR/study.json and the report
// (src/report).
export { runStudy, defaultRunProgress, type StudyOptions, type StudyOutcome } from "./runner.js";
export { validateStudyConfig, mergeConfig, readConfigFile, type ConfigLibrary, type StudyConfig, type DataConfig, type SourceConfig, type TargetConfig, type ModelConfig, type MethodOptions, type CostConfig } from "./config.js";
export { PRESETS, LIBRARY, MODELS, presetConfig } from "./presets.js";
export { designStudy, topkId, strategyLabel, costMethods, costLabel, type Slot, type FapftSpec, type Design, type ModelFacts } from "./design.js";
export { realBackend, type StudyBackend } from "./backend.js";
export { prepareData, idxBytes, type PreparedData } from "./data.js";
export { openRun, resetRun, isDone, sameInputs, readOutputs, stableStringify, fileDigest, type RunState, type RunOutputs } from "./store.js";

import { LIBRARY, presetConfig } from "./presets.js";
import { mergeConfig, readConfigFile, validateStudyConfig, type StudyConfig } from "./config.js";

/** A preset with a JSON override file's values on top, validated. */
export function loadStudyConfig(preset = "default", file?: string | null): StudyConfig {
  const base = presetConfig(preset);
  return validateStudyConfig(file ? mergeConfig(base, readConfigFile(file), LIBRARY) : base);
}
