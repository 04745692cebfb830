// `pft study`: the paper's pipeline, resumable, from a configuration to DIR/study.json and the
// report. Layout of DIR:
//
//   config.json              the resolved configuration
//   data/<name>/             fixed test subsets / training pools (IDX), when the config asks
//   runs/<id>/               one pft run directory per slot (inputs.json, run.json, metrics,
//                            checkpoints while it trains, model.safetensors, result.json, train.log)
//   plans/<id>.json          FAPFT plans (pft plan format)
//   soups/<id>.safetensors   soups, with <id>.json (makeSoup's report) and <id>.inputs.json
//   robust/<id>.json         Table 4 measurements, with their inputs
//   cost/<model>.json        Fig. 5 measurements (every method's train and test step), with their inputs
//   study.json               the records the report is built from
//   report.md, report.html   the report (figures/<id>.svg: the figures, linked from report.md)
//
// Every slot is run through the store's rule (store.ts): done -> skipped, same inputs ->
// resumed, changed -> cleared and rerun. A slot that would train exactly what an earlier slot
// trained (same parameters, data, seed and recipe) reuses that run. Soups and Table 4 are cached
// the same way, keyed by the SHA-256 of the weights they read; Fig. 5's cost by what it measures
// (model, methods and their options, FAPFT's units, precision and the measurement settings).
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { PftError, isPftError } from "../errors.js";
import { createModel, catalogOf } from "../models/index.js";
import { DIRECTION_FOR, strategyInfo, angleMap, planFapft, planForStrategy, savePlan, type AngleReport, type Direction } from "../partial/index.js";
import { RUN_FILES, weightsFileOf } from "../files.js";
import { readJson, readManifest, selectionLabel, trainConfig, writeJsonAtomic, type Progress, type RunOptions } from "../train/index.js";
import type { AngleSet, ConsistencyRecord, CostRecord, DifficultyRecord, ModelRecord, RobustnessRecord, RunRecord, SoupRecord, StudyRecords } from "../report/records.js";
import { RECORDS_FORMAT, RECORDS_VERSION } from "../report/records.js";
import { buildReport, type Report } from "../report/index.js";
import { realBackend, type CostRequest, type CostResult, type RobustnessResult, type StudyBackend } from "./backend.js";
import type { DataConfig, ModelConfig, StudyConfig, TargetConfig } from "./config.js";
import { consistencyRecord } from "./consistency.js";
import { prepareData, type PreparedData } from "./data.js";
import { slotIds, soupId, robustnessId, costId, topkId } from "./ids.js";
import { costMethods, designStudy, type Design, type ModelFacts, type Slot } from "./design.js";
import { fileDigest, isDone, openRun, readOutputs, resetRun, sameInputs, stableStringify, type RunOutputs } from "./store.js";

export interface StudyOptions {
  config: StudyConfig;
  /** The override file the config came from, recorded in the report. */
  configFile?: string | null;
  out: string;
  backend?: StudyBackend;
  /** Study progress lines (runs started, finished, skipped). Default: stderr. */
  log?: (line: string) => void;
  /** The trainer's progress for one run (null: none). Default: a bar on a terminal, epoch lines otherwise. */
  progress?: ((runId: string) => Progress) | null;
  /** Build the records and the report from what DIR holds, training nothing. */
  reportOnly?: boolean;
  /** Clock for elapsed times (tests). */
  now?: () => number;
}

export interface StudyOutcome {
  out: string;
  records: StudyRecords;
  /** Slot ids trained (or resumed) by this invocation, in order. */
  trained: string[];
  /** Slot ids found finished. */
  skipped: string[];
  /** Slot ids that reuse another slot's run. */
  reused: string[];
  report: Report;
}

/** A slot once the runner has been through it. */
interface Done {
  slot: Slot;
  /** The run directory holding its training (its own, or the reused slot's). */
  dir: string;
  sameAs: string | null;
  /** Null while the run has not finished (or could not start: its inputs are not there yet). */
  outputs: RunOutputs | null;
  /** FAPFT: what the plan chose. */
  plan: { topk: number[]; direction: Direction; units: string[] } | null;
}

/** What trains in a slot, resolved: the run's options, its recorded inputs, and what identifies the training. */
interface Resolved {
  options: Pick<RunOptions, "strategy" | "plan" | "method">;
  /** Recorded in inputs.json. */
  train: Record<string, unknown>;
  /** The trainable parameters (or method): with data, weights, seed and recipe, the training's identity. */
  trainable: unknown;
  plan: Done["plan"];
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? "-" : `${(x * 100).toFixed(1)}%`);

function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

const QUIET: Progress = { start() {}, tick() {}, end() {} };

/** Every dataset a study can use (MNIST, Fashion-MNIST, the sklearn digits) has ten classes. */
const STUDY_CLASSES = 10;

/** The trainer's progress for one run: a redrawn bar on a terminal, one line per epoch otherwise. */
export function defaultRunProgress(runId: string): Progress {
  const stream = process.stderr;
  let label = "";
  let t0 = 0;
  const tty = Boolean(stream.isTTY);
  return {
    start(l) {
      label = l;
      t0 = Date.now();
    },
    tick(done, info) {
      if (tty) stream.write(`\r\x1b[K      ${runId} ${label} ${done} steps ${info}`.slice(0, (stream.columns ?? 120) - 1));
    },
    end(summary) {
      stream.write(`${tty ? "\r\x1b[K" : ""}      ${runId} ${label}: ${summary} (${((Date.now() - t0) / 1000).toFixed(1)}s)\n`);
    },
  };
}

export function runStudy(o: StudyOptions): StudyOutcome {
  return new Study(o).run();
}

class Study {
  readonly cfg: StudyConfig;
  readonly out: string;
  readonly backend: StudyBackend;
  readonly log: (line: string) => void;
  readonly now: () => number;
  readonly progressFor: ((runId: string) => Progress) | null;
  readonly t0: number;
  /** What the runs train in unless the recipe says: the engine's answer (bf16 only where the CPU has it). */
  readonly precision: "bf16" | "fp32";
  source!: PreparedData;
  targets = new Map<string, PreparedData>();
  facts = new Map<string, ModelFacts>();
  design!: Design;
  readonly done = new Map<string, Done>();
  /** Training identity -> the slot that trains it. */
  readonly byTraining = new Map<string, string>();
  readonly trained: string[] = [];
  readonly skipped: string[] = [];
  readonly reused: string[] = [];
  trainingMs = 0;
  readonly angles = new Map<string, AngleReport>();
  readonly difficulties = new Map<string, DifficultyRecord[]>();

  constructor(readonly o: StudyOptions) {
    this.cfg = o.config;
    this.out = resolve(o.out);
    this.backend = o.backend ?? realBackend;
    this.log = o.log ?? ((s: string) => process.stderr.write(s + "\n"));
    this.now = o.now ?? Date.now;
    this.progressFor = o.progress === undefined ? defaultRunProgress : o.progress;
    this.t0 = this.now();
    this.precision = this.backend.defaultPrecision();
  }

  run(): StudyOutcome {
    this.prepare();
    this.design.slots.forEach((slot, i) => this.runSlot(slot, i));
    const soups = this.cfg.models.filter((m) => m.soups).flatMap((m) => this.cfg.targets.flatMap((t) => this.soups(m, t)));
    const robustness = this.cfg.robustness ? this.cfg.models.map((m) => this.robustness(m, soups)) : [];
    const cost = this.cfg.cost ? this.cfg.models.map((m) => this.cost(m)) : [];
    const records = this.records(soups, robustness, cost);
    writeJsonAtomic(join(this.out, "study.json"), records);
    const report = buildReport(records);
    rmSync(join(this.out, "figures"), { recursive: true, force: true });
    mkdirSync(join(this.out, "figures"));
    for (const f of report.figures) writeFileSync(join(this.out, "figures", `${f.id}.svg`), f.svg + "\n");
    writeFileSync(join(this.out, "report.md"), report.markdown);
    writeFileSync(join(this.out, "report.html"), report.html);
    const finished = records.runs.filter((r) => r.result).length;
    this.log(`study: ${finished} of ${records.runs.length} runs finished (${this.trained.length} trained now, ${this.skipped.length} earlier, ${this.reused.length} reused) in ${this.elapsed()}; report: ${join(this.out, "report.md")}, ${join(this.out, "report.html")}`);
    return { out: this.out, records, trained: this.trained, skipped: this.skipped, reused: this.reused, report };
  }

  // ------------------------------------------------------------------------------------ setting up

  private prepare(): void {
    for (const d of ["runs", "plans", "soups"]) mkdirSync(join(this.out, d), { recursive: true });
    writeJsonAtomic(join(this.out, "config.json"), this.cfg);
    this.source = prepareData(this.cfg.source, this.out);
    for (const t of this.cfg.targets) this.targets.set(t.key, prepareData(t, this.out));
    for (const m of this.cfg.models) {
      const model = createModel(m.name, { numClasses: STUDY_CLASSES });
      try {
        this.facts.set(m.key, { catalog: catalogOf(model), shapes: new Map(model.namedParameters().map((n) => [n.name, n.param.shape])) });
      } finally {
        model.dispose();
      }
    }
    this.design = designStudy(this.cfg, this.facts);
    const { models, targets, seeds } = this.cfg;
    this.log(`study: ${this.design.slots.length} runs (${models.map((m) => m.key).join(", ")} on ${targets.map((t) => t.key).join(", ")}; seeds ${seeds.join(", ")}) in ${this.out}${this.o.reportOnly ? " (report only: nothing is trained)" : ""}`);
  }

  private elapsed(): string {
    return clock(this.now() - this.t0);
  }

  private rel(p: string): string {
    return relative(this.out, p) || ".";
  }

  private seedsOf(m: ModelConfig): number[] {
    return m.seeds ?? this.cfg.seeds;
  }

  // ------------------------------------------------------------------------------------ the runs

  private runSlot(slot: Slot, i: number): void {
    const total = this.design.slots.length;
    const tag = `[${String(i + 1).padStart(String(total).length)}/${total}]`;
    const m = slot.model;
    const t = slot.target;
    const dataCfg: DataConfig = t ?? this.cfg.source;
    const record = (d: Omit<Done, "slot">) => void this.done.set(slot.id, { slot, ...d });
    const pending = (why: string) => {
      this.log(`${tag} ${slot.id}: waiting for ${why} (not available)`);
      record({ dir: join(this.out, "runs", slot.id), sameAs: null, outputs: null, plan: null });
    };
    const pre = t ? this.done.get(slotIds.pretrain(m)) : null;
    if (t && !pre?.outputs) return pending("the pretrained weights");
    const what = this.resolve(slot);
    if (typeof what === "string") return pending(what);

    const from = pre ? { run: pre.slot.id, weights: fileDigest(weightsFileOf(pre.dir)) } : null;
    const data = logicalData(dataCfg);
    const inputs = { format: "pft-study-run", version: 1, model: m.name, data, from, train: what.train, config: slot.config };
    const identity = stableStringify({ model: m.name, data, from, trainable: what.trainable, config: slot.config });
    const earlier = this.byTraining.get(identity);
    if (earlier) {
      const e = this.done.get(earlier)!;
      this.log(`${tag} ${slot.id}: trains exactly what ${earlier} trained: reusing it`);
      this.reused.push(slot.id);
      return record({ dir: e.dir, sameAs: earlier, outputs: e.outputs, plan: what.plan });
    }
    this.byTraining.set(identity, slot.id);
    const dir = join(this.out, "runs", slot.id);

    if (this.o.reportOnly) {
      const finished = isDone(dir, inputs);
      if (!finished) this.log(`${tag} ${slot.id}: not finished${sameInputs(dir, inputs) ? " (interrupted)" : ""}`);
      return record({ dir, sameAs: null, outputs: finished ? readOutputs(dir) : null, plan: what.plan });
    }
    const state = openRun(dir, inputs);
    if (state.state === "done") {
      const outputs = readOutputs(dir);
      this.log(`${tag} ${slot.id}: finished earlier (test ${pct(outputs?.result.test.acc)}): skipped`);
      this.skipped.push(slot.id);
      return record({ dir, sameAs: null, outputs, plan: what.plan });
    }

    const p = what.plan;
    const label = p ? `${slot.label}: top-k [${p.topk.join(", ")}], ${p.direction} angles, ${p.units.length} units` : slot.label;
    this.log(`${tag} ${slot.id}: ${state.state === "resume" ? "resuming" : "starting"} ${label}, seed ${slot.seed}${state.cleared ? " (its inputs changed: started over)" : ""} (${this.elapsed()} into the study)`);
    const started = this.now();
    const options: RunOptions = {
      data: (t ? this.targets.get(t.key)! : this.source).spec,
      ...(t ? { from: pre!.dir } : { model: m.name }),
      ...what.options,
      val: dataCfg.val,
      trainPerClass: dataCfg.trainPerClass ?? undefined,
      // The precision decided once for the study (the cost step measures in it too).
      config: { precision: this.precision, ...slot.config },
      out: dir,
      resume: true,
      log: (s: string) => appendFileSync(join(dir, "train.log"), s + "\n"),
      progress: this.progressFor ? this.progressFor(slot.id) : QUIET,
    };
    try {
      this.backend.train(options);
    } catch (e) {
      // A run started elsewhere (the study directory moved) cannot resume: its recorded paths differ.
      if (!(isPftError(e) && e.reason === "resume-mismatch")) throw e;
      this.log(`${tag} ${slot.id}: its checkpoint was made with other paths: starting over`);
      resetRun(dir, inputs);
      this.backend.train(options);
    }
    const outputs = readOutputs(dir);
    if (!outputs) throw new PftError("io", `${dir}: the run finished without result.json`);
    dropCheckpoints(dir);
    this.trained.push(slot.id);
    this.trainingMs += this.now() - started;
    // A rough estimate of what is left: the mean time of the runs trained so far, times the runs to go.
    const left = this.trained.length >= 3 ? `, about ${clock((this.trainingMs / this.trained.length) * (total - i - 1))} of runs left` : "";
    const r = outputs.result;
    this.log(`${tag} ${slot.id}: done in ${clock(this.now() - started)}: test ${pct(r.test.acc)}, validation ${pct(r.best?.acc)}, ${r.trainable.toLocaleString("en-US")} trainable (${this.elapsed()} into the study${left})`);
    record({ dir, sameAs: null, outputs, plan: what.plan });
  }

  /** What a slot trains: a strategy, a method, or a FAPFT plan from the angles of a full fine-tune; or what it still waits for. */
  private resolve(slot: Slot): Resolved | string {
    if (slot.method) return { options: { method: slot.method }, train: { method: slot.method }, trainable: { method: slot.method }, plan: null };
    if (!slot.fapft) {
      const s = slot.strategy ?? "full";
      return { options: { strategy: s }, train: { strategy: s }, trainable: s === "full" ? "all" : planForStrategy(this.facts.get(slot.model.key)!.catalog, s).trainable, plan: null };
    }
    const m = slot.model;
    const angles = this.anglesOf(m, slot.fapft.anglesFrom);
    if (!angles) return slot.fapft.anglesFrom;
    const diff = this.difficultyOf(m, slot.target!);
    if (!diff) return "the full fine-tunes that decide the difficulty";
    const pre = this.done.get(slotIds.pretrain(m))!;
    const ft = this.done.get(slot.fapft.anglesFrom)!;
    const topk = slot.fapft.topk === "auto" ? diff.topk : slot.fapft.topk;
    const direction = slot.fapft.direction === "auto" ? diff.direction : slot.fapft.direction;
    const plan = planFapft(angles, { topk, direction }, { model: m.name, pretrained: this.rel(pre.dir), finetuned: this.rel(ft.dir) });
    // Saved for the report and for `pft finetune --plan`; the run itself is given the object.
    const file = join(this.out, "plans", `${slot.id}.json`);
    if (!existsSync(file) || stableStringify(readJson(file, "plan")) !== stableStringify(plan)) savePlan(file, plan);
    const chosen = { topk: plan.topk!, direction: plan.direction!, units: plan.units };
    return { options: { plan }, train: { plan: chosen, anglesFrom: { run: ft.slot.id, weights: fileDigest(weightsFileOf(ft.dir)) } }, trainable: plan.trainable, plan: chosen };
  }

  /** Fine-tuned angles (Eq. 2) between the model's pretrained weights and a finished full fine-tune. */
  private anglesOf(m: ModelConfig, fullId: string): AngleReport | null {
    const have = this.angles.get(fullId);
    if (have) return have;
    const pre = this.done.get(slotIds.pretrain(m));
    const ft = this.done.get(fullId);
    if (!pre?.outputs || !ft?.outputs) return null;
    const report = this.backend.angles(pre.dir, ft.dir);
    this.angles.set(fullId, report);
    return report;
  }

  /** Appendix B.2, per model: once every target's main full fine-tunes have finished. */
  private difficultyOf(m: ModelConfig, t: TargetConfig): DifficultyRecord | null {
    let recs = this.difficulties.get(m.key);
    if (!recs) {
      const mean = (xs: (number | null | undefined)[]) => (xs.every((x) => typeof x === "number") && xs.length ? (xs as number[]).reduce((a, b) => a + b, 0) / xs.length : null);
      const stats = this.cfg.targets.map((tt) => {
        const runs = this.seedsOf(m).map((s) => this.done.get(slotIds.full(m, tt, s))?.outputs?.result);
        return { t: tt, val: mean(runs.map((r) => r?.best?.acc)), test: mean(runs.map((r) => r?.test.acc)) };
      });
      const auto = stats.filter((s) => s.t.difficulty === "auto");
      if (auto.some((s) => s.val === null)) return null;
      // The better half (for two targets: the better one) is easy.
      const ranked = [...auto].sort((a, b) => b.val! - a.val!);
      const easy = new Set(ranked.slice(0, Math.floor(ranked.length / 2)).map((s) => s.t.key));
      recs = stats.map((s): DifficultyRecord => {
        const difficulty = s.t.difficulty === "auto" ? (easy.has(s.t.key) ? "easy" : "hard") : s.t.difficulty;
        const how = s.t.difficulty === "auto" ? "measured" : "configured";
        return { model: m.key, target: s.t.key, fullValAcc: s.val, fullTestAcc: s.test, difficulty, how, direction: DIRECTION_FOR[difficulty], topk: m.fapftTopk[difficulty] };
      });
      this.difficulties.set(m.key, recs);
      for (const r of recs) {
        this.log(`study: ${m.key}: ${r.target} is ${r.difficulty} (${r.how}${r.how === "measured" ? `: full fine-tuning validation ${pct(r.fullValAcc)}` : ""}) -> FAPFT top-k [${r.topk.join(", ")}], ${r.direction} angles`);
      }
    }
    return recs.find((r) => r.target === t.key) ?? null;
  }

  // ------------------------------------------------------------------------------------ soups (Table 3)

  private soups(m: ModelConfig, t: TargetConfig): SoupRecord[] {
    const baseLr = { ...this.cfg.finetune, ...m.finetune }.lr;
    const fft = this.cfg.soups.fft.map((r) => {
      const lr = r.lr ?? baseLr;
      const slot = this.design.slots.find((s) => s.model.key === m.key && s.target?.key === t.key && s.kind === "full" && s.seed === r.seed && s.config.lr === lr && s.variant?.axis !== "epochs");
      return slot?.id ?? null;
    });
    // The ablation has both directions of its top-k values: the soup takes the target's.
    const diff = this.difficultyOf(m, t);
    const fapft = m.soupTopk.map((k) => {
      const inAblation = m.ablation && m.ablationTopk.some((a) => topkId(a) === topkId(k));
      return slotIds.topk(m, t, k, inAblation ? (diff?.direction ?? "?") : "auto", this.seedsOf(m)[0]);
    });
    return ([["fft", fft], ["fapft", fapft]] as const).filter(([, ids]) => ids.length >= 2).map(([kind, ids]) => this.soup(m, t, kind, ids));
  }

  private soup(m: ModelConfig, t: TargetConfig, kind: "fft" | "fapft", ids: (string | null)[]): SoupRecord {
    const id = soupId(m, t, kind);
    const file = (ext: string) => join(this.out, "soups", `${id}${ext}`);
    const seed = this.seedsOf(m)[0];
    const members = ids.map((x) => (x ? this.done.get(x) : undefined));
    const rec: SoupRecord = {
      model: m.key,
      target: t.key,
      kind,
      method: this.cfg.soups.method,
      ingredients: members.map((d, i) => ({
        run: ids[i] ?? "?",
        label: d?.slot.label ?? "?",
        lr: (d?.slot.config.lr as number | undefined) ?? NaN,
        seed: d?.slot.seed ?? NaN,
        topk: d?.plan?.topk ?? null,
        trainable: d?.outputs?.result.trainable ?? null,
        testAcc: d?.outputs?.result.test.acc ?? null,
        valAcc: d?.outputs?.result.best?.acc ?? null,
      })),
      soup: null,
      weights: this.rel(file(".safetensors")),
      heldOutFromAll: null,
    };
    if (members.some((d) => !d?.outputs)) {
      this.log(`study: ${id} soup: waiting for its runs (not all finished)`);
      return rec;
    }
    const dirs = [...new Set(members.map((d) => d!.dir))];
    const inputs = { method: this.cfg.soups.method, ingredients: dirs.map((d) => ({ run: this.rel(d), weights: fileDigest(weightsFileOf(d)) })), data: logicalData(t), seed };
    type Made = { soup: { members: string[]; val: { acc: number } | null; test: { acc: number } | null }; params: { trained: number | null }; val: { heldOutFromAll: boolean } | null };
    let report: Made | null = null;
    if ([".json", ".safetensors", ".inputs.json"].every((e) => existsSync(file(e))) && stableStringify(readJson(file(".inputs.json"), "soup inputs")) === stableStringify(inputs)) {
      report = readJson<Made>(file(".json"), "soup report");
      this.log(`study: ${id} soup: made earlier: skipped`);
    } else if (!this.o.reportOnly) {
      if (dirs.length < 2) {
        this.log(`study: ${id} soup: its runs are all one run (${this.rel(dirs[0])}): no soup`);
        return rec;
      }
      const started = this.now();
      this.log(`study: ${id} soup: ${this.cfg.soups.method} soup of ${dirs.length} runs (${this.elapsed()} into the study)`);
      report = this.backend.soup({ method: this.cfg.soups.method, checkpoints: dirs, out: file(".safetensors"), data: this.targets.get(t.key)!.spec, val: t.val, seed, trainPerClass: t.trainPerClass ?? undefined, precision: recordedPrecision(dirs[0]), log: () => {} });
      writeJsonAtomic(file(".inputs.json"), inputs);
      this.log(`study: ${id} soup: done in ${clock(this.now() - started)}: test ${pct(report.soup.test?.acc)}`);
    }
    if (report) {
      rec.soup = { testAcc: report.soup.test?.acc ?? null, valAcc: report.soup.val?.acc ?? null, members: report.soup.members.map((p) => this.rel(resolve(p))), trainedParams: report.params.trained };
      rec.heldOutFromAll = report.val?.heldOutFromAll ?? null;
    }
    return rec;
  }

  // ------------------------------------------------------------------------------------ Table 4

  /** Corruptions and out-of-distribution data for full fine-tuning, ATTN-only, FFN-only, FAPFT and the soups (first seed). */
  private robustness(m: ModelConfig, soups: readonly SoupRecord[]): RobustnessRecord {
    const rc = this.cfg.robustness!;
    const t = this.cfg.targets.find((x) => x.key === rc.target)!;
    const s0 = this.seedsOf(m)[0];
    const picks: { label: string; source: string; dir: string | null; weights: string | null; trainable: number | null; iidAcc: number | null }[] = [];
    for (const key of ["full", "attn", "ffn", "fapft"] as const) {
      const label = selectionLabel(key);
      const d = this.done.get(key === "full" ? slotIds.full(m, t, s0) : key === "fapft" ? slotIds.fapft(m, t, s0) : slotIds.selection(m, t, key, s0));
      if (d) picks.push({ label, source: d.slot.id, dir: d.dir, weights: d.outputs ? weightsFileOf(d.dir) : null, trainable: d.outputs?.result.trainable ?? null, iidAcc: d.outputs?.result.test.acc ?? null });
    }
    for (const s of soups.filter((x) => x.model === m.key && x.target === t.key)) {
      picks.push({ label: s.kind === "fft" ? "Soup-FFT" : "Soup-FAPFT", source: s.weights.replace(/\.safetensors$/, ""), dir: null, weights: s.soup ? join(this.out, s.weights) : null, trainable: s.soup?.trainedParams ?? null, iidAcc: s.soup?.testAcc ?? null });
    }
    const id = robustnessId(m, t);
    const rec: RobustnessRecord = {
      model: m.key,
      target: t.key,
      corruption: { dataset: t.data, images: 0, perClass: rc.perClass, seed: rc.seed, types: 0 },
      ood: null,
      rows: picks.map((p) => ({ label: p.label, source: p.source, trainable: p.trainable, iidAcc: p.iidAcc, oodAcc: null, mce: null, relativeMce: null, corruptedAcc: null })),
    };
    if (picks.some((p) => !p.weights)) {
      this.log(`study: ${id} robustness: waiting for its runs (not all finished)`);
      return rec;
    }
    const inputs = { model: m.name, data: logicalData(t), ood: rc.ood, perClass: rc.perClass, seed: rc.seed, checkpoints: picks.map((p) => ({ label: p.label, weights: fileDigest(p.weights!) })) };
    const start = `${picks.length} models, 15 corruptions x 5 severities on ${rc.perClass} test images per class${rc.ood ? `, and ${rc.ood} as out-of-distribution data` : ""}`;
    const result = this.measured(join("robust", `${id}.json`), "robustness results", inputs, `${id} robustness`, start, (): RobustnessResult => {
      // The shifted data as the study prepared it (the source's or a target's test split), else as the loaders give it.
      const specOf = (data: string) => (data === this.cfg.source.data ? this.source.spec : (this.targets.get(this.cfg.targets.find((x) => x.data === data)?.key ?? "")?.spec ?? data));
      const bf16 = recordedPrecision(picks[0].dir ?? "") === "bf16";
      return this.backend.robustness({ model: m.name, checkpoints: picks.map((p) => ({ label: p.label, weights: p.weights! })), data: this.targets.get(t.key)!.spec, ood: rc.ood === null ? null : specOf(rc.ood), perClass: rc.perClass, seed: rc.seed, bf16 });
    });
    if (result) {
      rec.corruption = { ...result.corruption, dataset: t.data };
      rec.ood = result.ood;
      rec.rows = rec.rows.map((row, i) => ({ ...row, oodAcc: result.rows[i].oodAcc, mce: result.rows[i].mce, relativeMce: result.rows[i].relativeMce, corruptedAcc: result.rows[i].corruptedAcc }));
    }
    return rec;
  }

  /**
   * A measurement cached in DIR/<file> with the inputs it was made from (Table 4, Fig. 5): read
   * back when the inputs are the same, else measured and written atomically; with --report-only
   * nothing is measured (null).
   */
  private measured<R>(file: string, what: string, inputs: unknown, tag: string, start: string, measure: () => R): R | null {
    const path = join(this.out, file);
    if (existsSync(path)) {
      const saved = readJson<{ inputs: unknown; result: R }>(path, what);
      if (stableStringify(saved.inputs) === stableStringify(inputs)) {
        this.log(`study: ${tag}: measured earlier: skipped`);
        return saved.result;
      }
    }
    if (this.o.reportOnly) return null;
    const started = this.now();
    this.log(`study: ${tag}: ${start} (${this.elapsed()} into the study)`);
    const result = measure();
    mkdirSync(dirname(path), { recursive: true });
    writeJsonAtomic(path, { inputs, result });
    this.log(`study: ${tag}: done in ${clock(this.now() - started)}`);
    return result;
  }

  // ------------------------------------------------------------------------------------ Fig. 5

  /**
   * Training latency per step, training memory, test latency and test memory of every method the
   * study fine-tunes for this model (Fig. 5's), with the study's model, method options, precision
   * and batch size, and FAPFT's units from the study's plan for the first target and first seed.
   */
  private cost(m: ModelConfig): CostRecord {
    const cc = this.cfg.cost!;
    const recipe = trainConfig({ precision: this.precision, ...this.cfg.finetune, ...m.finetune } as Record<string, unknown>);
    const settings: CostRecord["settings"] = { batch: cc.batch ?? recipe.batchSize, warmup: cc.warmup, reps: cc.reps, rounds: cc.rounds, threads: cc.threads, precision: recipe.precision, clock: cc.threads === 1 ? "cpu" : "wall" };
    const { methods, leftOut } = costMethods(this.design, m);
    const t0 = this.cfg.targets[0];
    const fapftRun = slotIds.fapft(m, t0, this.seedsOf(m)[0]);
    const plan = this.done.get(fapftRun)?.plan ?? null;
    const rec: CostRecord = {
      model: m.key,
      settings,
      fapft: plan ? { run: fapftRun, plan: `plans/${fapftRun}.json`, target: t0.key, topk: plan.topk, direction: plan.direction, units: plan.units } : null,
      machine: null,
      leftOut,
      rows: [],
    };
    if (!plan) {
      this.log(`study: ${m.key} cost: waiting for FAPFT's plan (${fapftRun})`);
      return rec;
    }
    const inputs: Omit<CostRequest, "log"> = { model: m.name, numClasses: STUDY_CLASSES, methods, methodOptions: m.methodOptions, fapftUnits: plan.units, precision: recipe.precision, batch: settings.batch, warmup: cc.warmup, reps: cc.reps, rounds: cc.rounds, threads: cc.threads };
    const start = `${methods.length} methods x train and test, each in a fresh process (batch ${settings.batch}, ${settings.precision}, median of ${cc.reps} steps after ${cc.warmup}, best of ${cc.rounds} round${cc.rounds === 1 ? "" : "s"})`;
    const result = this.measured(join("cost", `${costId(m)}.json`), "cost measurements", inputs, `${m.key} cost`, start, (): CostResult => this.backend.cost({ ...inputs, log: (line) => this.log(`study: ${m.key} cost: ${line}`) }));
    if (result) {
      rec.machine = result.machine;
      rec.rows = result.rows;
    }
    return rec;
  }

  // ------------------------------------------------------------------------------------ Fig. 4 and the records

  /** The Fig. 4 panels of one model: lr and epoch variants per target, seeds per target, and the targets against each other. */
  private consistency(m: ModelConfig): ConsistencyRecord[] {
    const fulls = this.design.slots.filter((s) => s.model.key === m.key && s.kind === "full");
    const seeds = this.seedsOf(m);
    const recipe = { ...this.cfg.finetune, ...m.finetune };
    const column = (s: Slot, label: string) => ({ label, run: s.id, target: s.target!.key });
    const main = (t: TargetConfig, seed: number) => fulls.find((s) => s.target!.key === t.key && s.seed === seed && s.variant === null);
    const panels: { axis: ConsistencyRecord["axis"]; columns: ConsistencyRecord["columns"] }[] = [];
    for (const t of this.cfg.targets) {
      const base = main(t, seeds[0]);
      if (!base) continue;
      for (const axis of ["lr", "epochs"] as const) {
        const variants = fulls.filter((s) => s.target!.key === t.key && s.seed === seeds[0] && s.variant?.axis === axis && s.purposes.includes("consistency"));
        if (variants.length) panels.push({ axis, columns: [column(base, `${axis} ${axis === "lr" ? recipe.lr : recipe.epochs}`), ...variants.map((v) => column(v, `${axis} ${v.variant!.value}`))] });
      }
      if (seeds.length > 1) panels.push({ axis: "seed", columns: seeds.flatMap((sd) => main(t, sd) ?? []).map((s) => column(s, `seed ${s.seed}`)) });
    }
    if (this.cfg.targets.length > 1) panels.push({ axis: "dataset", columns: this.cfg.targets.flatMap((t) => main(t, seeds[0]) ?? []).map((s) => column(s, s.target!.key)) });
    return panels.flatMap((p) => {
      const reports = p.columns.map((c) => this.angles.get(c.run));
      if (p.columns.length < 2 || reports.some((x) => !x)) return [];
      return [consistencyRecord(m.key, p.axis, this.facts.get(m.key)!.catalog, p.columns, reports.map((x) => angleMap(x!)))];
    });
  }

  private records(soups: SoupRecord[], robustness: RobustnessRecord[], cost: CostRecord[]): StudyRecords {
    const cfg = this.cfg;
    const angleSets: AngleSet[] = [];
    for (const s of this.design.slots.filter((x) => x.kind === "full")) {
      const a = this.anglesOf(s.model, s.id);
      if (a) angleSets.push({ model: s.model.key, target: s.target!.key, run: s.id, angles: Object.fromEntries(angleMap(a)) });
    }
    const models: ModelRecord[] = cfg.models.map((m) => {
      const c = this.facts.get(m.key)!.catalog;
      const groups = c.groups.map((g) => ({ id: g.id, kind: g.kind, stage: g.stage, units: g.units.map((u) => u.name) }));
      return { key: m.key, name: m.name, arch: c.arch, depths: c.depths, totalParams: c.total, groups, fapftTopk: m.fapftTopk, notApplicable: this.design.notApplicable.get(m.key) ?? [] };
    });
    const unavailable: StudyRecords["unavailable"] = [];
    if (!cfg.cost) unavailable.push({ section: "Computational cost (Fig. 5)", reason: "left out by the configuration (cost: null)" });
    if (!cfg.robustness) unavailable.push({ section: "Robustness and out-of-distribution accuracy (Table 4)", reason: "left out by the configuration (robustness: null)" });
    return {
      format: RECORDS_FORMAT,
      version: RECORDS_VERSION,
      preset: cfg.preset,
      configFile: this.o.configFile ?? null,
      config: cfg,
      engine: this.backend.engine(),
      source: this.source.record,
      targets: cfg.targets.map((t) => this.targets.get(t.key)!.record),
      models,
      runs: this.design.slots.map((s) => runRecord(this.done.get(s.id)!, (p) => this.rel(p))),
      angles: angleSets,
      consistency: cfg.models.flatMap((m) => this.consistency(m)),
      difficulty: cfg.models.flatMap((m) => cfg.targets.flatMap((t) => this.difficultyOf(m, t) ?? [])),
      soups,
      robustness,
      cost,
      unavailable,
    };
  }
}

/** A dataset as the configuration describes it (the inputs a run depends on), not where the study put its files. */
function logicalData(d: DataConfig) {
  return { dataset: d.data, trainPerClass: d.trainPerClass, val: d.val, testPerClass: d.testPerClass, trainPool: d.trainPool };
}

/** A finished run needs no resume state: its checkpoints (model and optimizer, ~4x the weights) go. */
function dropCheckpoints(dir: string): void {
  for (const e of readdirSync(dir)) if (/^ckpt-\d+$/.test(e)) rmSync(join(dir, e), { recursive: true, force: true });
  rmSync(join(dir, RUN_FILES.latest), { force: true });
}

/** The precision a run trained and evaluated in (its manifest), so soups and robustness evaluate alike. */
function recordedPrecision(dir: string): "bf16" | "fp32" | undefined {
  const p = (existsSync(dir) ? readManifest(dir) : null)?.config?.precision;
  return p === "bf16" || p === "fp32" ? p : undefined;
}

function runRecord(d: Done, rel: (p: string) => string): RunRecord {
  const s = d.slot;
  const o = d.outputs;
  const config = (existsSync(d.dir) ? readManifest(d.dir)?.config : undefined) ?? s.config;
  const { method, ...methodOptions } = s.method ?? { method: null };
  return {
    id: s.id,
    dir: rel(d.dir).replace(/^runs\//, ""),
    sameAs: d.sameAs,
    model: s.model.key,
    target: s.target?.key ?? null,
    purposes: s.purposes,
    kind: s.kind,
    label: s.label,
    strategy: s.strategy,
    letter: s.strategy ? strategyInfo(s.strategy).letter : null,
    method,
    methodOptions: s.method ? methodOptions : null,
    topk: d.plan?.topk ?? null,
    direction: d.plan?.direction ?? null,
    units: d.plan?.units ?? null,
    anglesFrom: s.fapft?.anglesFrom ?? null,
    variant: s.variant,
    seed: s.seed,
    config: config as Record<string, unknown>,
    result: o
      ? {
          trainable: o.result.trainable,
          total: o.result.total,
          valAcc: o.result.best?.acc ?? null,
          bestEpoch: o.result.best?.epoch ?? null,
          testAcc: o.result.test.acc,
          testLoss: o.result.test.loss,
          testImages: o.result.test.n,
          trainSeconds: o.epochs.reduce((a, e) => a + e.seconds, 0),
          imagesPerSecond: o.epochs.length ? o.epochs.reduce((a, e) => a + e.imagesPerSecond, 0) / o.epochs.length : 0,
        }
      : null,
  };
}
