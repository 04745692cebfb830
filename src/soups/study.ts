// Table 3's comparison for any model and dataset: N full fine-tunes that differ in learning rate
// and seed against N FAPFT runs with one set of hyper-parameters that differ only in top-k, each
// run's accuracy and trained parameters, and a soup of each side (section 4.3).
//
//   const r = runSoupStudy({
//     data: "cifar100:/data/cifar-100", from: "vit_b16_in21k.safetensors", out: "studies/cifar100",
//     fft: [{ lr: 1e-4, seed: 0 }, { lr: 3e-5, seed: 1 }, ...],
//     fapft: { topk: [2, 3, 4, 5, 7], difficulty: "hard" },
//     train: { epochs: 100, batchSize: 512 },
//   });
//   console.log(r.table);
//
// FAPFT's units come from the fine-tuned angles between the pretrained weights and the best
// full fine-tune (by validation accuracy). Layout of `out`:
//   fft-1/ ... fft-N/       full fine-tuning runs (pft run directories, resumable)
//   plans/fapft-1.json ...  the FAPFT plans
//   fapft-1/ ... fapft-N/   FAPFT runs
//   soups/fft.safetensors, soups/fft.json, soups/fapft.safetensors, soups/fapft.json
//   study.json              this function's result
//
// Validation: runTraining carves every run's validation split with the split seed (default 0),
// not the training seed, so all runs hold out the same images and both soups are judged on them;
// each soup's report still says whether its split was held out of all its ingredients.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PftError } from "../errors.js";
import { computeAngles, planFapft, savePlan, type Difficulty, type Direction } from "../partial/index.js";
import { runTraining, writeJsonAtomic, type Progress, type RunResult, type TrainConfig } from "../train/index.js";
import { makeSoup, type SoupMethod, type SoupReport } from "./soup.js";

export interface SoupStudyConfig {
  /** Dataset spec: mnist, digits, cifar100:DIR, folder:DIR, ... */
  data: string;
  /** Pretrained weights every run starts from (a safetensors file or a run directory). */
  from: string;
  /** Registered model (default: the one `from` records). */
  model?: string;
  /** Study directory. */
  out: string;
  /** One full fine-tune per entry. */
  fft: readonly { lr: number; seed: number }[];
  /** One FAPFT run per top-k, all with the same lr and seed (default: the first full fine-tune's). */
  fapft: { topk: readonly (number | string | readonly number[])[]; difficulty?: Difficulty; direction?: Direction; lr?: number; seed?: number };
  /** Training settings shared by every run (epochs, batch size, ...); lr and seed come from the runs. */
  train?: Partial<Omit<TrainConfig, "lr" | "seed">>;
  /** Held-out validation fraction of the training split (default 0.1). */
  val?: number;
  trainPerClass?: number;
  /** Default "uniform": Table 3's soups average all five runs (its totals count every run). */
  soup?: SoupMethod;
  log?: (line: string) => void;
  progress?: Progress;
}

export interface StudyRun {
  kind: "fft" | "fapft";
  name: string;
  out: string;
  lr: number;
  seed: number;
  /** FAPFT's per-stage top-k; null for full fine-tunes. */
  topk: number[] | null;
  trainable: number;
  total: number;
  /** Best validation accuracy during training (null without a validation split). */
  valAcc: number | null;
  testAcc: number;
}

export interface SoupStudyResult {
  out: string;
  /** The checkpoints the FAPFT angles came from. */
  angles: { pretrained: string; finetuned: string };
  runs: StudyRun[];
  soups: { fft: SoupReport; fapft: SoupReport };
  /** Table 3's layout, as markdown: per-run test accuracy and trained parameters, then the soups. */
  table: string;
}

export function runSoupStudy(c: SoupStudyConfig): SoupStudyResult {
  if (c.fft.length === 0) throw new PftError("config", "the study needs at least one full fine-tune");
  if (c.fapft.topk.length === 0) throw new PftError("config", "the study needs at least one FAPFT top-k");
  if (!c.fapft.difficulty && !c.fapft.direction) throw new PftError("config", "FAPFT needs a difficulty (easy|hard) or a direction (largest|smallest)");
  const log = c.log ?? ((s: string) => process.stderr.write(s + "\n"));
  const val = c.val ?? 0.1;
  mkdirSync(join(c.out, "plans"), { recursive: true });
  mkdirSync(join(c.out, "soups"), { recursive: true });
  const common = { data: c.data, from: c.from, model: c.model, val, trainPerClass: c.trainPerClass, log: c.log, progress: c.progress };
  const asRun = (kind: StudyRun["kind"], name: string, lr: number, seed: number, topk: number[] | null, r: RunResult): StudyRun => ({
    kind, name, out: r.out, lr, seed, topk, trainable: r.trainable, total: r.total, valAcc: r.best?.acc ?? null, testAcc: r.test.acc,
  });

  const runs: StudyRun[] = [];
  c.fft.forEach(({ lr, seed }, i) => {
    const name = `fft-${i + 1}`;
    log(`study: ${name}: full fine-tuning, lr ${lr}, seed ${seed}`);
    runs.push(asRun("fft", name, lr, seed, null, runTraining({ ...common, strategy: "full", config: { ...c.train, lr, seed }, out: join(c.out, name) })));
  });

  const fft = runs.filter((r) => r.kind === "fft");
  const source = fft.reduce((a, b) => ((b.valAcc ?? -1) > (a.valAcc ?? -1) ? b : a));
  const report = computeAngles(c.from, source.out);
  log(`study: FAPFT angles from ${c.from} and ${source.out} (best validation accuracy of the full fine-tunes)`);
  const lr = c.fapft.lr ?? c.fft[0].lr;
  const seed = c.fapft.seed ?? c.fft[0].seed;
  c.fapft.topk.forEach((topk, i) => {
    const name = `fapft-${i + 1}`;
    const plan = planFapft(report, { topk: typeof topk === "number" ? [topk] : topk, difficulty: c.fapft.difficulty, direction: c.fapft.direction }, { model: c.model ?? null, pretrained: c.from, finetuned: source.out });
    const planFile = join(c.out, "plans", `${name}.json`);
    savePlan(planFile, plan);
    log(`study: ${name}: FAPFT top-k [${plan.topk!.join(", ")}], ${plan.units.length} units, lr ${lr}, seed ${seed}`);
    runs.push(asRun("fapft", name, lr, seed, plan.topk, runTraining({ ...common, plan: planFile, config: { ...c.train, lr, seed }, out: join(c.out, name) })));
  });

  const soup = (kind: StudyRun["kind"]): SoupReport =>
    makeSoup({
      method: c.soup ?? "uniform",
      checkpoints: runs.filter((r) => r.kind === kind).map((r) => r.out),
      out: join(c.out, "soups", `${kind}.safetensors`),
      data: c.data,
      val,
      seed,
      trainPerClass: c.trainPerClass,
      model: c.model,
      log: (s) => log(`study: ${kind} soup: ${s}`),
    });
  const soups = { fft: soup("fft"), fapft: soup("fapft") };
  const result: SoupStudyResult = { out: c.out, angles: { pretrained: c.from, finetuned: source.out }, runs, soups, table: "" };
  result.table = studyTable(result);
  writeJsonAtomic(join(c.out, "study.json"), result);
  return result;
}

/** Table 3's layout: run rows (test accuracy %, trained parameters) for FFT and FAPFT side by side, then the soups. */
export function studyTable(r: Pick<SoupStudyResult, "runs" | "soups">): string {
  const side = (kind: StudyRun["kind"]) => r.runs.filter((x) => x.kind === kind);
  const [fft, fapft] = [side("fft"), side("fapft")];
  const acc = (x: number | null | undefined) => (x === null || x === undefined ? "" : (x * 100).toFixed(2));
  // Table 3 prints millions (runs to 0.01M, soups to 0.1M); toy models would print zeros, so they get counts.
  const small = r.runs.some((x) => x.trainable < 1e5);
  const run = (x: StudyRun | undefined) => (x === undefined ? "" : small ? x.trainable.toLocaleString("en-US") : `${(x.trainable / 1e6).toFixed(2)}M`);
  const soup = (s: SoupReport) => (s.params.trained === null ? "" : small ? s.params.trained.toLocaleString("en-US") : `${s.params.millions}M`);
  const rows = ["| Exp. | FFT Acc. | FFT Params | FAPFT Acc. | FAPFT Params |", "|---|---|---|---|---|"];
  for (let i = 0; i < Math.max(fft.length, fapft.length); i++) {
    rows.push(`| run${i + 1} | ${acc(fft[i]?.testAcc)} | ${run(fft[i])} | ${acc(fapft[i]?.testAcc)} | ${run(fapft[i])} |`);
  }
  const s = r.soups;
  rows.push(`| Soup | ${acc(s.fft.soup.test?.acc)} | ${soup(s.fft)} | ${acc(s.fapft.soup.test?.acc)} | ${soup(s.fapft)} |`);
  return rows.join("\n");
}
