// The study's records: what `pft study` writes to DIR/study.json and the report is built from.
// Plain JSON types, no behaviour: the report imports nothing else from pft, and anything that can
// produce these records (the study runner, a test fixture) can be reported.
//
// Accuracies are fractions in [0, 1]; parameter counts are exact scalars; paths are relative to
// the study directory.

export const RECORDS_FORMAT = "pft-study";
export const RECORDS_VERSION = 2;

export interface StudyRecords {
  format: typeof RECORDS_FORMAT;
  version: typeof RECORDS_VERSION;
  /** The preset the configuration started from ("quick", "default", ...), and the config file if one was given. */
  preset: string;
  configFile: string | null;
  /** The resolved configuration, as JSON (printed in the report's appendix). */
  config: unknown;
  /** The compute engine the runs used (libtorch, BLAS, threads), when known. */
  engine: string | null;
  source: DataRecord;
  targets: DataRecord[];
  models: ModelRecord[];
  /** Every run slot of the design, finished or not. */
  runs: RunRecord[];
  /** Fine-tuned angles of full fine-tuning runs (Eq. 2), one set per run. */
  angles: AngleSet[];
  /** Fig. 4: angle rankings of one model across configurations, with Kendall's tau. */
  consistency: ConsistencyRecord[];
  /** Appendix B.2's rule, applied per model: the target where full fine-tuning does better is easy. */
  difficulty: DifficultyRecord[];
  /** Table 3: full-fine-tuning and FAPFT soups. */
  soups: SoupRecord[];
  /** Table 4: clean, corrupted and out-of-distribution accuracy of full, partial and soup models. */
  robustness: RobustnessRecord[];
  /** Fig. 5: training and test cost of every method, per model. */
  cost: CostRecord[];
  /** Parts of the study that could not be produced, in plain words (e.g. a module not yet available). */
  unavailable: { section: string; reason: string }[];
}

export interface DataRecord {
  key: string;
  /** Dataset name as the loaders know it: mnist, fashion-mnist, digits. */
  dataset: string;
  /** One line on what it is, e.g. "sklearn 8x8 digits, upscaled to 28x28". */
  description: string;
  classes: number;
  /** Training images per class (few-shot), null for all. */
  trainPerClass: number | null;
  /** Validation images held out of the training split (count or fraction). */
  val: number;
  /** Test images evaluated (the whole test split or a fixed seeded subset). */
  testImages: number;
  /** Test images per class when a subset is used, else null. */
  testPerClass: number | null;
}

export interface ModelRecord {
  key: string;
  /** Registered model name. */
  name: string;
  arch: string;
  depths: number[];
  /** Parameters of the model with the target's classifier (10 classes). */
  totalParams: number;
  /** Homogeneous groups (Table 6), each with its units in block order. */
  groups: { id: string; kind: string; stage: number; units: string[] }[];
  /** FAPFT's per-stage top-k by difficulty (the study's Table 7). */
  fapftTopk: { easy: number[]; hard: number[] };
  /** Strategies and methods the design left out because they do not apply to this architecture. */
  notApplicable: { what: string; reason: string }[];
}

/** Why a run is in the design. */
export type RunPurpose = "pretrain" | "main" | "ablation" | "consistency" | "soup";

export type RunKind = "pretrain" | "full" | "strategy" | "linear" | "method" | "fapft";

export interface RunRecord {
  /** Slot id, e.g. "vit-digits-attn-s0"; its directory is runs/<dir>. */
  id: string;
  /** The run directory under runs/ that holds its training (another slot's when sameAs is set). */
  dir: string;
  /** When this slot trains exactly what an earlier slot trained (same parameters, data, seed, config), that slot's id. */
  sameAs: string | null;
  model: string;
  /** Target key; null for pretraining. */
  target: string | null;
  purposes: RunPurpose[];
  kind: RunKind;
  /** Human label: "Full fine-tuning", "ATTN-only (B)", "Adapter", "FAPFT", ... */
  label: string;
  /** Manual strategy name (full, attn, ..., linear) or null. */
  strategy: string | null;
  /** Fig. 3's letter (A-I) for the manual strategies. */
  letter: string | null;
  /** Parameter-efficient method (adapter, vpt, ssf, lora) and its options. */
  method: string | null;
  methodOptions: Record<string, unknown> | null;
  /** FAPFT: per-stage top-k, direction, the units chosen and the run whose angles chose them. */
  topk: number[] | null;
  direction: "largest" | "smallest" | null;
  units: string[] | null;
  anglesFrom: string | null;
  /** Consistency variants: which setting differs from the main full fine-tune ("lr", "epochs"), else null. */
  variant: { axis: "lr" | "epochs"; value: number } | null;
  seed: number;
  /** The training configuration the run used (epochs, lr, batch size, ...). */
  config: Record<string, unknown>;
  /** Null until the run finished. */
  result: RunResult | null;
}

export interface RunResult {
  trainable: number;
  total: number;
  /** Best validation accuracy during training (the weights kept), null without validation. */
  valAcc: number | null;
  bestEpoch: number | null;
  testAcc: number;
  testLoss: number;
  testImages: number;
  /** Training time: the sum of the epochs' seconds (metrics.jsonl), not counting evaluation on test. */
  trainSeconds: number;
  /** Training throughput, images per second, averaged over epochs. */
  imagesPerSecond: number;
}

export interface AngleSet {
  model: string;
  target: string;
  /** The full fine-tuning run (slot id) whose weights are compared to the pretrained ones. */
  run: string;
  /** Unit name -> angle in degrees. */
  angles: Record<string, number>;
}

export interface ConsistencyRecord {
  model: string;
  /** What varies between the columns. */
  axis: "lr" | "epochs" | "dataset" | "seed";
  /** One column per configuration: the full fine-tuning run whose angles are ranked. */
  columns: { label: string; run: string; target: string }[];
  /** Per homogeneous group: units in block order, and each column's ranks (1 = largest angle). */
  groups: { group: string; units: string[]; ranks: number[][]; taus: { a: number; b: number; tau: number | null }[]; meanTau: number | null }[];
  /** Mean Kendall tau over every pair of columns and every group (Fig. 4's number). */
  meanTau: number | null;
}

export interface DifficultyRecord {
  model: string;
  target: string;
  /** Full fine-tuning's mean best validation accuracy over seeds (what the rule compares). */
  fullValAcc: number | null;
  /** Full fine-tuning's mean test accuracy over seeds (reported, not used by the rule). */
  fullTestAcc: number | null;
  difficulty: "easy" | "hard";
  /** "measured" (the rule), or "configured" (fixed by the configuration). */
  how: "measured" | "configured";
  direction: "largest" | "smallest";
  topk: number[];
}

export interface SoupRecord {
  model: string;
  target: string;
  kind: "fft" | "fapft";
  method: "uniform" | "greedy";
  /** Ingredients: slot ids with what distinguishes them. */
  ingredients: { run: string; label: string; lr: number; seed: number; topk: number[] | null; trainable: number | null; testAcc: number | null; valAcc: number | null }[];
  /** Null until the soup was made. */
  soup: { testAcc: number | null; valAcc: number | null; members: string[]; trainedParams: number | null } | null;
  /** The soup's weights and report (relative paths). */
  weights: string;
  /** Whether the validation split the soup was judged on was held out of every ingredient. */
  heldOutFromAll: boolean | null;
}

export interface RobustnessRecord {
  model: string;
  /** The target the models were fine-tuned on; its test split is corrupted. */
  target: string;
  /** The corruption benchmark: the test images used, and the corruption types (5 severities each). */
  corruption: { dataset: string; images: number; perClass: number | null; seed: number; types: number };
  /** The shifted dataset with the same classes (null when there is none). */
  ood: { dataset: string; images: number } | null;
  /** One row per model: a run (slot id) or a soup (soups/<id>). */
  rows: {
    label: string;
    source: string;
    trainable: number | null;
    /** Accuracy on the target's test split (as the run recorded it). */
    iidAcc: number | null;
    oodAcc: number | null;
    /** Hendrycks' mCE against the nearest-class-mean reference (fraction; lower is better). */
    mce: number | null;
    relativeMce: number | null;
    /** Mean accuracy over every corruption and severity. */
    corruptedAcc: number | null;
  }[];
}

/** One step of one method, as Fig. 5 measures it. Times in milliseconds, memory in MiB. */
export interface CostMeasure {
  /** The median step's latency: the worker's CPU time with one engine thread, else wall time (CostRecord.settings.clock). */
  latencyMs: number;
  /** The median step's wall-clock time. */
  wallMs: number;
  /** The engine's own accounting of the native tensors JS holds at the step's fullest: weights, buffers, gradients, optimizer state, batch. */
  tensorMiB: number;
  /** The method's share of the process's peak RSS: peak anonymous RSS during the steps minus anonymous RSS before the model was built (activations included). */
  rssMiB: number;
  /** The process's peak RSS (VmHWM), libtorch's code pages included. */
  peakRssMiB: number;
}

export interface CostMethodRecord {
  /** full, attn, ffn, fapft, linear, adapter, vpt, ssf, lora. */
  method: string;
  label: string;
  /** Parameters the method trains, and all parameters of the model it trains (method modules included). */
  trainable: number;
  total: number;
  /** The model the test step runs: "plain" (no method modules), "merged" (SSF, LoRA folded in) or "method" (Adapter, VPT-Deep kept). */
  testModel: "plain" | "merged" | "method";
  train: CostMeasure;
  test: CostMeasure;
}

export interface CostRecord {
  /** Model key. */
  model: string;
  /** How every method of this model was measured: images per step, untimed warm-up steps, timed steps (median), alternating rounds (best kept), engine threads per worker. */
  settings: { batch: number; warmup: number; reps: number; rounds: number; threads: number; precision: string; clock: "cpu" | "wall" };
  /** FAPFT's units: the study's plan for one target and seed (null until that plan exists). */
  fapft: { run: string; plan: string; target: string; topk: number[]; direction: "largest" | "smallest"; units: string[] } | null;
  /** The engine and CPU the measurement ran on (null until measured). */
  machine: string | null;
  /** Fig. 5's methods this model does not measure, with the reason. */
  leftOut: { what: string; reason: string }[];
  /** One row per method in Fig. 5's order; empty until measured. */
  rows: CostMethodRecord[];
}
