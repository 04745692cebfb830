// Partial fine-tuning: the manual strategies (section 3.1), fine-tuned angles (Eq. 2), FAPFT
// selection (section 3.2, appendix B), exact trainable-parameter accounting, and plans.
export { STRATEGIES, FAPFT_LABEL, parseStrategy, strategyInfo, letterOf, blocksOf, unitsForStrategy, type StrategyName, type StrategyId, type StrategyInfo } from "./strategies.js";
export { policyFor, type PartialPolicy, type Difficulty } from "./policy.js";
export { openWeights, resolveWeightsFile, type WeightSource } from "./weights.js";
export { AngleAccumulator, NormalizedPass, streamAngle, vectorAngle, toDegrees, matchCheckpoints, anglesOf, computeAngles, angleMap, parseAngleParams, isWeightMatrix, ANGLE_PARAMS, type AngleParams, type UnitAngle, type AngleReport, type Vector } from "./angles.js";
export { SELECTORS, weightChangeOf, relativeGradientScores, randomScores, type SelectorKey } from "./selectors.js";
export { rankByGroup, kendallTau, angleTau, type GroupRanking, type RankedUnit } from "./ranking.js";
export { DIRECTION_FOR, parseDifficulty, parseTopk, validateTopk, resolveTopk, selectFapft, unitSize, fapftUnitParams, type Direction } from "./fapft.js";
export { trainableSet, trainableOthers, countParams, modelCatalog, type TrainableSet, type ParamCount } from "./accounting.js";
export { PLAN_FORMAT, PLAN_VERSION, planForStrategy, planFapft, savePlan, loadPlan, validatePlan, torchSnippet, type Plan, type PlanMeta, type FapftOptions } from "./plan.js";
