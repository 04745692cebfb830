// Model soups (section 3.3, 4.3, Table 3): streaming uniform and greedy weight averaging of full
// and partial fine-tuning runs, Table 3's parameter accounting, and the FFT-vs-FAPFT study.
export { makeSoup, soupSpec, SOUP_METHODS, resolveValSplit, soupReportPath, type SoupMethod, type SoupOptions, type SoupReport, type IngredientReport, type SoupEvaluator, type ValSplit } from "./soup.js";
export { greedySelect, type GreedyResult, type GreedyStep } from "./greedy.js";
export { averageTensors, writeAverage, loadAverage, type SoupTensor, type SoupObserver, type AverageOptions, type AverageSummary } from "./average.js";
export { openIngredients, recordedModelOf, type Ingredient, type IngredientSet } from "./ingredients.js";
export { soupParams, fullSoupParams, fapftSoupParams, type SoupParams } from "./params.js";
export { RawTensorReader, SafetensorsStreamWriter, type StreamEntry } from "./stream.js";
export {
  mergeTensors, writeMerge, validateMergeSpec, needsBase, changedMeanTensors, taskArithmeticTensors, tiesTensors, wiseFtTensors, modelStockTensors,
  modelStockRatio, tiesKeep, selectKth, soupAll, soupFileName, MERGE_METHODS, type SoupAllEntry, type MergeSpec, type MergeMethod, type MergedTensor, type MergeSummary, type MergeOptions,
} from "./merge.js";
export { openBase, checkDescent, sameWeightsFile, MAX_RELATIVE_DISTANCE, type SoupBase, type DescentReport, type DescentEvidence } from "./base.js";
export { evaluateEnsemble } from "./ensemble.js";
