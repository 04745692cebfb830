// The study's configuration: one typed object, made of a preset (presets.ts) with a JSON file's
// overrides on top (objects merge key by key, arrays and values replace). Unknown keys and wrong
// types are errors naming the path, as nanoGPT's configurator rejects them, without its exec.
import { readFileSync } from "node:fs";
import { PftError } from "../errors.js";
import { trainConfig, type TrainConfig } from "../train/index.js";

/** How a dataset enters the study. */
export interface DataConfig {
  /** Short key used in run ids: "mnist", "digits", "fashion". */
  key: string;
  /** Offline dataset: mnist, fashion-mnist or digits. */
  data: "mnist" | "fashion-mnist" | "digits";
  /** Few-shot: training images per class (drawn per seed); null: the whole training split. */
  trainPerClass: number | null;
  /** Validation images held out of the training split (a count, or a fraction in (0, 1)); drawn per seed. */
  val: number;
  /**
   * Evaluate on a fixed seeded subset of this many test images per class (mnist, fashion-mnist);
   * null: the whole test split. The subset is drawn once (seed 0) and shared by every run.
   */
  testPerClass: number | null;
  /**
   * Keep this many training images per class in the study's copy of the dataset (mnist,
   * fashion-mnist; drawn once, seed 0): validation and few-shot draws come from this pool. null:
   * the whole training split.
   */
  trainPool: number | null;
}

export interface SourceConfig extends DataConfig {
  /** Pretraining recipe, shared by every model (a model's `pretrain` overrides it). */
  train: Partial<TrainConfig>;
}

export interface TargetConfig extends DataConfig {
  /**
   * Appendix B.2's difficulty: "auto" measures it (the target where full fine-tuning reaches the
   * higher validation accuracy is easy, the others hard; needs two targets or more).
   */
  difficulty: "auto" | "easy" | "hard";
}

export interface ModelConfig {
  /** Short key used in run ids: "vit", "swin", "convnext". */
  key: string;
  /** Registered model name (pft models). */
  name: string;
  /** Overrides of source.train for this model's pretraining. */
  pretrain: Partial<TrainConfig>;
  /** Overrides of the study's fine-tuning recipe for this model (every method alike). */
  finetune: Partial<TrainConfig>;
  /** FAPFT's per-stage top-k by difficulty: the study's Table 7 for this model. */
  fapftTopk: { easy: number[]; hard: number[] };
  /** Fig. 6: per-stage top-k values, each fine-tuned with the largest and with the smallest angles (seed 0). */
  ablationTopk: number[][];
  /** Table 3: the FAPFT soup's runs, one per top-k, with the target's direction (seed 0). */
  soupTopk: number[][];
  /** Manual strategies (Fig. 3, plus linear); those that do not apply to the architecture are skipped. */
  strategies: string[];
  /** Parameter-efficient baselines: adapter, vpt, ssf, lora (those that do not apply are skipped). */
  methods: string[];
  /** The baselines' options, scaled to the model (the paper's reduction 64 and 50 prompts are for ViT-B's 768 channels and 196 tokens). */
  methodOptions: MethodOptions;
  /** Seeds of the main grid; null: the study's seeds. */
  seeds: number[] | null;
  /** Whether to run the Fig. 4 variants (other lr, other epochs) and the soups for this model. */
  consistency: boolean;
  soups: boolean;
  ablation: boolean;
}

/** Options of the parameter-efficient baselines (as `pft finetune --method` takes them); absent: pft's defaults. */
export interface MethodOptions {
  adapterReduction?: number;
  prompts?: number;
  loraRank?: number;
  loraAlpha?: number;
  loraTargets?: string;
}

export interface StudyConfig {
  /** The preset this configuration started from. */
  preset: string;
  source: SourceConfig;
  targets: TargetConfig[];
  models: ModelConfig[];
  /**
   * The fine-tuning recipe shared by full fine-tuning, every partial strategy, FAPFT and the
   * baselines (the paper gives partial fine-tuning the full fine-tune's hyper-parameters).
   */
  finetune: Partial<TrainConfig>;
  /** Seeds of the main grid (each seed also draws its own few-shot subset and validation split). */
  seeds: number[];
  /** Fig. 4: other learning rates and epoch counts for full fine-tuning (seed 0, every target). */
  consistency: { lr: number[]; epochs: number[] };
  /** Table 3: the full-fine-tuning soup's runs (lr, seed); lr null: the recipe's. */
  soups: { fft: { lr: number | null; seed: number }[]; method: "uniform" | "greedy" };
  /**
   * Table 4: the corruption benchmark on one target's test split (the first `perClass` images of
   * each class, 15 corruptions x 5 severities) and out-of-distribution accuracy on `ood` (a dataset
   * with the same classes), for full fine-tuning, ATTN-only, FFN-only, FAPFT and the soups (first
   * seed). null: left out.
   */
  robustness: { target: string; ood: "mnist" | "fashion-mnist" | "digits" | null; perClass: number; seed: number } | null;
  /**
   * Fig. 5: training latency per step, training memory, test latency and test memory of every
   * method (full, ATTN-only, FFN-only, FAPFT, linear, and the baselines that apply), per model,
   * each method and mode in a fresh process (src/robust/cost.ts). null: left out.
   */
  cost: CostConfig | null;
}

/** How the cost step measures (the same for every method and model). */
export interface CostConfig {
  /** Images per step; null: the model's fine-tuning batch size. */
  batch: number | null;
  /** Untimed steps before the timed ones. */
  warmup: number;
  /** Timed steps; the latency is their median. */
  reps: number;
  /** Alternating rounds over the methods; each measure keeps its best round (other load only ever adds). */
  rounds: number;
  /** Engine threads per worker; with 1 the latency is CPU time per step, which other jobs cannot inflate. */
  threads: number;
}

// ---------------------------------------------------------------------------------------------- schema

type Check = (v: unknown, path: string) => void;
const fail = (path: string, what: string, v: unknown): never => {
  throw new PftError("config", `study config: ${path} must be ${what}, got ${JSON.stringify(v)}`);
};
const num: Check = (v, p) => void (typeof v === "number" && Number.isFinite(v) ? 0 : fail(p, "a number", v));
const int: Check = (v, p) => void (Number.isSafeInteger(v) && (v as number) >= 0 ? 0 : fail(p, "a whole number >= 0", v));
const pos: Check = (v, p) => void (Number.isSafeInteger(v) && (v as number) >= 1 ? 0 : fail(p, "a whole number >= 1", v));
const str: Check = (v, p) => void (typeof v === "string" && v.length > 0 ? 0 : fail(p, "a non-empty string", v));
const bool: Check = (v, p) => void (typeof v === "boolean" ? 0 : fail(p, "true or false", v));
const key: Check = (v, p) => void (typeof v === "string" && /^[a-z0-9]+$/.test(v) ? 0 : fail(p, "a short lower-case key (letters and digits)", v));
const oneOf = (...xs: unknown[]): Check => (v, p) => void (xs.includes(v) ? 0 : fail(p, `one of ${xs.map((x) => JSON.stringify(x)).join(", ")}`, v));
const nullable = (c: Check): Check => (v, p) => (v === null ? undefined : c(v, p));
/** An object whose keys are all optional. */
const partial = (fields: Record<string, Check>): Check => (v, p) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "an object", v);
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const c = fields[k];
    if (!c) throw new PftError("config", `study config: unknown key ${p}.${k} (known: ${Object.keys(fields).join(", ")})`);
    c(x, `${p}.${k}`);
  }
};
const arr = (c: Check, min = 0): Check => (v, p) => {
  if (!Array.isArray(v) || v.length < min) fail(p, `a list${min ? ` of at least ${min}` : ""}`, v);
  (v as unknown[]).forEach((x, i) => c(x, `${p}[${i}]`));
};
const obj = (fields: Record<string, Check>): Check => (v, p) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "an object", v);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in fields)) throw new PftError("config", `study config: unknown key ${p}.${k} (known: ${Object.keys(fields).join(", ")})`);
  for (const [k, c] of Object.entries(fields)) {
    if (!(k in o)) throw new PftError("config", `study config: ${p}.${k} is missing`);
    c(o[k], `${p}.${k}`);
  }
};
/** A partial training config: checked by the trainer's own rules. */
const train: Check = (v, p) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(p, "an object of training options", v);
  try {
    trainConfig(v as Record<string, unknown>);
  } catch (e) {
    throw new PftError("config", `study config: ${p}: ${(e as Error).message}`);
  }
};
const lrOf = (v: unknown, p: string) => void (typeof v === "number" && v > 0 ? 0 : fail(p, "a learning rate > 0", v));

const dataFields = {
  key,
  data: oneOf("mnist", "fashion-mnist", "digits"),
  trainPerClass: nullable(pos),
  val: (v: unknown, p: string) => void (typeof v === "number" && v > 0 && (v < 1 || Number.isInteger(v)) ? 0 : fail(p, "a count >= 1 or a fraction in (0, 1)", v)),
  testPerClass: nullable(pos),
  trainPool: nullable(pos),
};

const SCHEMA: Check = obj({
  preset: str,
  source: obj({ ...dataFields, train }),
  targets: arr(obj({ ...dataFields, difficulty: oneOf("auto", "easy", "hard") }), 1),
  models: arr(
    obj({
      key,
      name: str,
      pretrain: train,
      finetune: train,
      fapftTopk: obj({ easy: arr(int, 1), hard: arr(int, 1) }),
      ablationTopk: arr(arr(int, 1)),
      soupTopk: arr(arr(int, 1)),
      strategies: arr(str),
      methods: arr(str),
      methodOptions: partial({ adapterReduction: pos, prompts: pos, loraRank: pos, loraAlpha: num, loraTargets: str }),
      seeds: nullable(arr(int, 1)),
      consistency: bool,
      soups: bool,
      ablation: bool,
    }),
    1,
  ),
  finetune: train,
  seeds: arr(int, 1),
  consistency: obj({ lr: arr(lrOf), epochs: arr(pos) }),
  soups: obj({ fft: arr(obj({ lr: nullable(lrOf), seed: int })), method: oneOf("uniform", "greedy") }),
  robustness: nullable(obj({ target: key, ood: nullable(oneOf("mnist", "fashion-mnist", "digits")), perClass: pos, seed: int })),
  cost: nullable(obj({ batch: nullable(pos), warmup: int, reps: pos, rounds: pos, threads: pos })),
});

/** Checks a whole configuration (shape, types, and the cross-field rules); returns it typed. */
export function validateStudyConfig(value: unknown): StudyConfig {
  SCHEMA(value, "config");
  const c = value as StudyConfig;
  const dup = <T>(xs: T[], what: string) => {
    const d = xs.find((x, i) => xs.indexOf(x) !== i);
    if (d !== undefined) throw new PftError("config", `study config: ${what} ${JSON.stringify(d)} appears twice`);
  };
  dup(c.targets.map((t) => t.key), "target key");
  dup(c.models.map((m) => m.key), "model key");
  dup(c.seeds, "seed");
  for (const d of [c.source, ...c.targets]) {
    if (d.data === "digits" && (d.testPerClass !== null || d.trainPool !== null)) {
      throw new PftError("config", `study config: ${d.key}: testPerClass and trainPool apply to mnist and fashion-mnist (the digits are small already)`);
    }
  }
  if (c.targets.length < 2 && c.targets.some((t) => t.difficulty === "auto")) {
    throw new PftError("config", `study config: difficulty "auto" compares targets (appendix B.2): give two targets or more, or set "easy"/"hard"`);
  }
  if (c.soups.fft.length === 1) throw new PftError("config", "study config: soups.fft needs two runs or more (or none)");
  if (c.robustness && !c.targets.some((t) => t.key === c.robustness!.target)) {
    throw new PftError("config", `study config: robustness.target '${c.robustness.target}' is not a target (${c.targets.map((t) => t.key).join(", ")})`);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------- merging

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Lists whose entries are matched by `key` when merging (so a file can tune one model). */
const KEYED = ["targets", "models"] as const;

/** Known entries for the keyed lists: ready-made ones by key, and a template for new keys. */
export interface ConfigLibrary {
  targets: { known: readonly TargetConfig[]; template: Partial<TargetConfig> };
  models: { known: readonly ModelConfig[]; template: Partial<ModelConfig> };
}

/**
 * `over` on top of `base`: objects merge key by key, other values and lists replace. `targets`
 * and `models` are keyed lists: the result holds exactly the entries `over` lists, in its order,
 * each merged onto the entry with the same `key` in `base`, else in the library's known entries,
 * else onto the library's template (a bare string names a base or known entry as is). A key
 * `base` lacks is kept (validation then rejects it with its path).
 */
export function mergeConfig(base: unknown, over: unknown, library?: ConfigLibrary, field = ""): unknown {
  const keyed = KEYED.find((k) => k === field);
  if (keyed && Array.isArray(base) && Array.isArray(over)) {
    const lib = library?.[keyed];
    return over.map((entry, i) => {
      const k = typeof entry === "string" ? entry : isObject(entry) ? entry.key : undefined;
      const from = base.find((b) => isObject(b) && b.key === k) ?? lib?.known.find((b) => b.key === k);
      if (typeof entry === "string" && !from) {
        const known = [...base.map((b) => (isObject(b) ? String(b.key) : "?")), ...(lib?.known.map((b) => b.key) ?? [])];
        throw new PftError("config", `study config: ${field}[${i}] names '${entry}', which is not defined (known: ${[...new Set(known)].join(", ")})`);
      }
      return mergeConfig(from ?? lib?.template ?? {}, typeof entry === "string" ? {} : entry, library);
    });
  }
  if (!isObject(base) || !isObject(over)) return structuredClone(over);
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeConfig(out[k], v, library, k) : structuredClone(v);
  return out;
}

/** Reads a JSON override file. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PftError("io", `${file}: cannot read the study config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PftError("config", `${file}: not valid JSON (${(e as Error).message.split("\n")[0]})`);
  }
}
