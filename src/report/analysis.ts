// What the records say, computed: rows of the method tables (mean and standard deviation over
// seeds), and the paper's claims checked one by one with the numbers behind each verdict.
import type { ConsistencyRecord, CostMethodRecord, CostRecord, DifficultyRecord, RunRecord, SoupRecord, StudyRecords } from "./records.js";
import { mean, points, pctStd, summarize, type Summary } from "./stats.js";

/** Table 1/2's rows, in the paper's order. */
export const TABLE1_ROWS = ["full", "linear", "adapter", "vpt", "ssf", "lora", "attn", "ffn", "fapft"] as const;
/** Fig. 3's bars: A (full) to I. */
export const FIG3_ROWS = ["full", "attn", "ffn", "attn-first-half", "attn-last-half", "ffn-first-half", "ffn-last-half", "blocks-first-half", "blocks-last-half"] as const;
const PEFT_ROWS = ["linear", "adapter", "vpt", "ssf", "lora"];
const MANUAL_ROWS = FIG3_ROWS.filter((r) => r !== "full");

export interface MethodRow {
  key: string;
  label: string;
  letter: string | null;
  /** The main-grid runs of this method (one per seed), finished or not. */
  runs: RunRecord[];
  /** Test accuracy over the finished runs. */
  acc: Summary | null;
  /** Validation accuracy over the finished runs. */
  val: Summary | null;
  /** Trainable parameters (the same for every seed; null until a run finished). */
  trainable: number | null;
  /** Seeds of the finished runs. */
  seeds: number[];
}

/** The method a main-grid run belongs to: full, a strategy, a baseline, or fapft. */
export function rowKey(r: RunRecord): string {
  if (r.kind === "fapft") return "fapft";
  if (r.kind === "method") return r.method ?? "?";
  return r.strategy ?? r.kind;
}

export function mainRuns(rec: StudyRecords, model: string, target: string): RunRecord[] {
  return rec.runs.filter((r) => r.model === model && r.target === target && r.purposes.includes("main"));
}

/** One row per method of the main grid, by key. */
export function methodRows(rec: StudyRecords, model: string, target: string): Map<string, MethodRow> {
  const rows = new Map<string, MethodRow>();
  for (const r of mainRuns(rec, model, target)) {
    const key = rowKey(r);
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { key, label: r.label, letter: r.letter, runs: [], acc: null, val: null, trainable: null, seeds: [] }));
    row.runs.push(r);
  }
  for (const row of rows.values()) {
    const done = row.runs.filter((r) => r.result);
    row.acc = summarize(done.map((r) => r.result!.testAcc));
    const vals = done.map((r) => r.result!.valAcc).filter((v): v is number => v !== null);
    row.val = summarize(vals);
    row.trainable = done[0]?.result?.trainable ?? null;
    row.seeds = done.map((r) => r.seed);
  }
  return rows;
}

export type Verdict = "yes" | "no" | "n/a";

export interface Claim {
  /** Where in the paper the claim is made. */
  source: string;
  /** What is being checked, e.g. "vit on digits". */
  scope: string;
  /** The claim, stated as a yes/no question's statement. */
  claim: string;
  verdict: Verdict;
  /** The numbers behind the verdict, in plain words. */
  detail: string;
}

/** Whether a difference is within the seeds' spread, in words ("" when it stands out). */
function noise(a: Summary, b: Summary): string {
  if (Math.min(a.n, b.n) < 2) return "; one seed, so no estimate of the noise";
  const d = Math.abs(a.mean - b.mean);
  const s = Math.max(a.std, b.std);
  return d <= s ? `; within the seed-to-seed spread (std up to ${(s * 100).toFixed(2)})` : "";
}

const seedsOf = (s: Summary) => `${s.n} seed${s.n === 1 ? "" : "s"}`;

function vs(name: string, a: Summary, other: string, b: Summary): string {
  return `${points(a.mean - b.mean)} points: ${name} ${pctStd(a)} vs ${other} ${pctStd(b)}, ${seedsOf(a)}${noise(a, b)}`;
}

export function difficultyOf(rec: StudyRecords, model: string, target: string): DifficultyRecord | undefined {
  return rec.difficulty.find((d) => d.model === model && d.target === target);
}

export function consistencyOf(rec: StudyRecords, model: string, axis: ConsistencyRecord["axis"]): ConsistencyRecord[] {
  return rec.consistency.filter((c) => c.model === model && c.axis === axis);
}

/** The ablation's runs for one model and target, by direction, in top-k order. */
export function ablationRuns(rec: StudyRecords, model: string, target: string): { topk: string[]; largest: (RunRecord | null)[]; smallest: (RunRecord | null)[] } {
  // Ablation slots are named <model>-<target>-top<k>-<direction>-s<seed> (k's stages joined by dots).
  const runs = rec.runs
    .filter((r) => r.model === model && r.target === target && r.purposes.includes("ablation"))
    .map((r) => ({ r, m: /-top([\d.]+)-(largest|smallest)-s\d+$/.exec(r.id) }))
    .filter((x): x is { r: RunRecord; m: RegExpExecArray } => x.m !== null);
  const topk = [...new Set(runs.map((x) => x.m[1]))];
  const pick = (dir: string) => topk.map((k) => runs.find((x) => x.m[1] === k && x.m[2] === dir)?.r ?? null);
  return { topk: topk.map((k) => k.split(".").join(",")), largest: pick("largest"), smallest: pick("smallest") };
}

export function soupsOf(rec: StudyRecords, model: string, target: string): { fft: SoupRecord | undefined; fapft: SoupRecord | undefined } {
  const find = (kind: string) => rec.soups.find((s) => s.model === model && s.target === target && s.kind === kind);
  return { fft: find("fft"), fapft: find("fapft") };
}

/** One method's cost over full fine-tuning's (training) and over the plain model's (test: full fine-tuning's test step); null where the reference is 0. */
export interface CostRatios {
  trainLatency: number | null;
  trainRss: number | null;
  trainTensor: number | null;
  testLatency: number | null;
  testRss: number | null;
  testTensor: number | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 && Number.isFinite(a) ? a / b : null);

export function costRatios(row: CostMethodRecord, full: CostMethodRecord): CostRatios {
  return {
    trainLatency: ratio(row.train.latencyMs, full.train.latencyMs),
    trainRss: ratio(row.train.rssMiB, full.train.rssMiB),
    trainTensor: ratio(row.train.tensorMiB, full.train.tensorMiB),
    testLatency: ratio(row.test.latencyMs, full.test.latencyMs),
    testRss: ratio(row.test.rssMiB, full.test.rssMiB),
    testTensor: ratio(row.test.tensorMiB, full.test.tensorMiB),
  };
}

/** Smallest differences the cost claims count, however quiet the measurement looked. */
export const COST_NOISE_FLOOR = { latency: 0.05, rssMiB: 2 };

/**
 * The noise of one model's cost measurement, from the data: every test step that runs the plain
 * model (full fine-tuning, the partial strategies, FAPFT, linear probing, and SSF and LoRA once
 * merged into it) is the identical computation, measured at different times, so how far they land
 * from full fine-tuning's is what the measurement cannot resolve. Latency noise is relative (other
 * load stretches every step alike); RSS noise is in MiB (the allocator's granularity). Floors:
 * COST_NOISE_FLOOR. Null without full fine-tuning's row.
 */
export function costNoise(c: CostRecord): { latency: number; rssMiB: number; from: CostMethodRecord[] } | null {
  const full = c.rows.find((r) => r.method === "full");
  if (!full) return null;
  const plain = c.rows.filter((r) => r.testModel !== "method");
  const latency = Math.max(COST_NOISE_FLOOR.latency, ...plain.map((r) => Math.abs(r.test.latencyMs / full.test.latencyMs - 1)));
  const rssMiB = Math.max(COST_NOISE_FLOOR.rssMiB, ...plain.map((r) => Math.abs(r.test.rssMiB - full.test.rssMiB)));
  return { latency, rssMiB, from: plain };
}

const times = (x: number | null): string => (x === null ? "-" : `${x.toFixed(2)}×`);

/** Fig. 5 / Sec. 4.6's cost claims for one model's measurement. */
function costClaims(c: CostRecord, claims: Claim[]): void {
  const source = "Fig. 5, Sec. 4.6";
  const scope = c.model;
  const na = (claim: string, why: string) => claims.push({ source, scope, claim, verdict: "n/a", detail: why });
  const claimTexts = {
    fapftFaster: "FAPFT trains faster than full fine-tuning",
    fapftSmaller: "FAPFT trains with less memory than full fine-tuning",
    partialFaster: "The partial strategies (ATTN-only, FFN-only) train faster than full fine-tuning",
    partialSmaller: "The partial strategies (ATTN-only, FFN-only) train with less memory than full fine-tuning",
    plainTest: "FAPFT and the partial strategies have the plain model's test latency and memory",
    adapter: "Adapter adds test latency",
    vpt: "VPT-Deep adds test latency",
  };
  const full = c.rows.find((r) => r.method === "full");
  const noise = costNoise(c);
  if (!full || !noise) {
    for (const text of Object.values(claimTexts)) na(text, c.rows.length ? "full fine-tuning was not measured" : "not measured yet");
    return;
  }
  const row = (m: string) => c.rows.find((r) => r.method === m);
  const lat = `${(noise.latency * 100).toFixed(0)}%`;
  const rss = `${noise.rssMiB.toFixed(1)} MiB`;
  const latencyNote = `differences within ${lat} are this measurement's noise (the spread of the plain model's identical test steps: ${noise.from.map((r) => r.label).join(", ")})`;
  const rssNote = `RSS differences within ${rss} are this measurement's noise (the spread of the plain model's identical test steps); the tensor count is exact`;
  const leftOut = (label: string) => c.leftOut.find((l) => l.what === label)?.reason ?? "not measured";

  // Training: faster beyond the latency noise; less memory beyond the RSS noise and in the tensors the engine counts exactly.
  const faster = (r: CostMethodRecord) => {
    const q = costRatios(r, full);
    const ok = q.trainLatency !== null && q.trainLatency < 1 - noise.latency;
    return { ok, words: `${r.label} ${times(q.trainLatency)} (${r.train.latencyMs.toFixed(1)} vs ${full.train.latencyMs.toFixed(1)} ms per step)${ok ? "" : ", not measurably faster"}` };
  };
  const smaller = (r: CostMethodRecord) => {
    const q = costRatios(r, full);
    const ok = r.train.rssMiB < full.train.rssMiB - noise.rssMiB && r.train.tensorMiB < full.train.tensorMiB;
    return { ok, words: `${r.label}: peak RSS ${r.train.rssMiB.toFixed(1)} vs ${full.train.rssMiB.toFixed(1)} MiB (${times(q.trainRss)}), tensors ${r.train.tensorMiB.toFixed(1)} vs ${full.train.tensorMiB.toFixed(1)} MiB (${times(q.trainTensor)})${ok ? "" : ", not measurably less"}` };
  };
  const check = (claim: string, subjects: CostMethodRecord[], test: typeof faster, note: string, missing: string) => {
    if (!subjects.length) return na(claim, missing);
    const results = subjects.map(test);
    claims.push({ source, scope, claim, verdict: results.every((x) => x.ok) ? "yes" : "no", detail: `${results.map((x) => x.words).join("; ")}; ${note}` });
  };
  const fapft = row("fapft");
  const partial = ["attn", "ffn"].flatMap((m) => row(m) ?? []);
  const noPartial = `ATTN-only and FFN-only were not measured (${leftOut("ATTN-only")})`;
  check(claimTexts.fapftFaster, fapft ? [fapft] : [], faster, latencyNote, "FAPFT was not measured");
  check(claimTexts.fapftSmaller, fapft ? [fapft] : [], smaller, rssNote, "FAPFT was not measured");
  check(claimTexts.partialFaster, partial, faster, latencyNote, noPartial);
  check(claimTexts.partialSmaller, partial, smaller, rssNote, noPartial);

  // Test: the deployed model is the plain one (same tensors, exactly), and its latency and RSS are within the noise of full fine-tuning's.
  const subjects = [...(fapft ? [fapft] : []), ...partial];
  if (subjects.length) {
    const same = subjects.map((r) => {
      const q = costRatios(r, full);
      const plain = r.testModel === "plain" && q.testTensor !== null && Math.abs(q.testTensor - 1) <= 0.01;
      const within = q.testLatency !== null && Math.abs(q.testLatency - 1) <= noise.latency && Math.abs(r.test.rssMiB - full.test.rssMiB) <= noise.rssMiB;
      return { ok: plain && within, words: `${r.label} ${r.testModel} model, tensors ${r.test.tensorMiB.toFixed(2)} MiB, latency ${times(q.testLatency)}, RSS ${r.test.rssMiB.toFixed(1)} MiB` };
    });
    claims.push({ source, scope, claim: claimTexts.plainTest, verdict: same.every((x) => x.ok) ? "yes" : "no", detail: `${same.map((x) => x.words).join("; ")} vs the plain model's ${full.test.tensorMiB.toFixed(2)} MiB, ${full.test.latencyMs.toFixed(1)} ms, ${full.test.rssMiB.toFixed(1)} MiB; differences within ${lat} in latency and ${rss} in RSS are this measurement's noise (these rows are among those that set it)` });
  } else na(claimTexts.plainTest, "neither FAPFT nor a partial strategy was measured");

  // Adapter and VPT-Deep keep their modules at test time: more latency, if it is beyond the noise.
  for (const [m, label, text] of [["adapter", "Adapter", claimTexts.adapter], ["vpt", "VPT-Deep", claimTexts.vpt]] as const) {
    const r = row(m);
    if (!r) {
      na(text, `${label} was not measured (${leftOut(label)})`);
      continue;
    }
    const q = costRatios(r, full);
    const adds = q.testLatency !== null && q.testLatency > 1 + noise.latency;
    claims.push({ source, scope, claim: text, verdict: adds ? "yes" : "no", detail: `${times(q.testLatency)} the plain model's test latency (${r.test.latencyMs.toFixed(1)} vs ${full.test.latencyMs.toFixed(1)} ms per step, ${r.testModel} model)${adds ? "" : ", not measurably more"}; differences within ${lat} are this measurement's noise` });
  }
}

/** Every claim the records can check. */
export function checkClaims(rec: StudyRecords): Claim[] {
  const claims: Claim[] = [];
  const na = (source: string, scope: string, claim: string, why: string) => claims.push({ source, scope, claim, verdict: "n/a", detail: why });
  for (const m of rec.models) {
    for (const t of rec.targets) {
      const scope = `${m.key} on ${t.key}`;
      const rows = methodRows(rec, m.key, t.key);
      const acc = (k: string) => rows.get(k)?.acc ?? null;
      const full = acc("full");
      const fapft = acc("fapft");
      const diff = difficultyOf(rec, m.key, t.key);

      // Tables 1-2: FAPFT against full fine-tuning, the manual strategies and the baselines.
      const c1 = "FAPFT is more accurate than full fine-tuning";
      if (full && fapft) claims.push({ source: "Tables 1-2", scope, claim: c1, verdict: fapft.mean > full.mean ? "yes" : "no", detail: vs("FAPFT", fapft, "full", full) });
      else na("Tables 1-2", scope, c1, "runs missing");
      const fullP = rows.get("full")?.trainable;
      const fapftP = rows.get("fapft")?.trainable;
      const c2 = "FAPFT trains fewer parameters than full fine-tuning";
      if (fullP && fapftP) claims.push({ source: "Tables 1-2", scope, claim: c2, verdict: fapftP < fullP ? "yes" : "no", detail: `${fapftP.toLocaleString("en-US")} of ${fullP.toLocaleString("en-US")} (${((100 * fapftP) / fullP).toFixed(1)}%)${diff ? `, top-k [${diff.topk.join(", ")}] with the ${diff.direction} angles (${t.key} is ${diff.difficulty})` : ""}` });
      else na("Tables 1-2", scope, c2, "runs missing");
      const best = (keys: readonly string[]) =>
        keys
          .map((k) => ({ k, s: acc(k), label: rows.get(k)?.label ?? k }))
          .filter((x): x is { k: string; s: Summary; label: string } => x.s !== null)
          .sort((a, b) => b.s.mean - a.s.mean)[0];
      const manual = best(MANUAL_ROWS);
      const c3 = "FAPFT beats every manual partial strategy (B-I)";
      if (fapft && manual) claims.push({ source: "Fig. 1, Sec. 3.2", scope, claim: c3, verdict: fapft.mean > manual.s.mean ? "yes" : "no", detail: `best manual strategy ${manual.label}; ${vs("FAPFT", fapft, manual.label, manual.s)}` });
      else na("Fig. 1, Sec. 3.2", scope, c3, "runs missing");
      const peft = best(PEFT_ROWS);
      const c4 = "FAPFT beats the parameter-efficient baselines (linear, Adapter, VPT, SSF, LoRA)";
      if (fapft && peft) claims.push({ source: "Tables 1-2", scope, claim: c4, verdict: fapft.mean > peft.s.mean ? "yes" : "no", detail: `best baseline ${peft.label}; ${vs("FAPFT", fapft, peft.label, peft.s)}` });
      else na("Tables 1-2", scope, c4, "runs missing");

      // Fig. 3's observations.
      const attn = acc("attn");
      const ffn = acc("ffn");
      const c5 = "ATTN-only or FFN-only is at least as accurate as full fine-tuning (Obs. 2)";
      if (full && (attn || ffn)) {
        const parts = [attn ? `ATTN-only ${vs("ATTN-only", attn, "full", full).split(":")[0]}` : null, ffn ? `FFN-only ${vs("FFN-only", ffn, "full", full).split(":")[0]}` : null].filter(Boolean);
        const top = [attn, ffn].filter((x): x is Summary => !!x).sort((a, b) => b.mean - a.mean)[0];
        claims.push({ source: "Fig. 3, Obs. 2", scope, claim: c5, verdict: top.mean >= full.mean ? "yes" : "no", detail: `${parts.join(", ")} (full ${pctStd(full)})${noise(top, full)}` });
      } else na("Fig. 3, Obs. 2", scope, c5, "ATTN-only and FFN-only do not apply or did not run");
      const pairs = [["E", "attn-last-half", "D", "attn-first-half"], ["G", "ffn-last-half", "F", "ffn-first-half"], ["I", "blocks-last-half", "H", "blocks-first-half"]] as const;
      const have = pairs.filter(([, l, , f]) => acc(l) && acc(f));
      const c6 = "Fine-tuning the last half of the layers beats the first half (Obs. 3)";
      if (have.length) {
        const wins = have.filter(([, l, , f]) => acc(l)!.mean > acc(f)!.mean).length;
        claims.push({ source: "Fig. 3, Obs. 3", scope, claim: c6, verdict: wins === have.length ? "yes" : "no", detail: `${wins} of ${have.length} pairs: ${have.map(([el, l, fl, f]) => `${el} − ${fl} ${points(acc(l)!.mean - acc(f)!.mean)}`).join(", ")}` });
      } else na("Fig. 3, Obs. 3", scope, c6, "the half strategies do not apply or did not run");
      const manualAll = MANUAL_ROWS.map((k) => acc(k)).filter((x): x is Summary => x !== null);
      const c7 = "The choice of layers matters: manual strategies differ by more than the seed noise (Obs. 1)";
      if (manualAll.length >= 2) {
        const spread = Math.max(...manualAll.map((s) => s.mean)) - Math.min(...manualAll.map((s) => s.mean));
        const maxStd = Math.max(...manualAll.map((s) => s.std));
        const oneSeed = manualAll.some((s) => s.n < 2);
        claims.push({ source: "Fig. 3, Obs. 1", scope, claim: c7, verdict: oneSeed ? "n/a" : spread > maxStd ? "yes" : "no", detail: `spread ${(spread * 100).toFixed(2)} points over ${manualAll.length} strategies${oneSeed ? " (one seed: no noise estimate)" : `, largest std ${(maxStd * 100).toFixed(2)}`}` });
      }

      // Fig. 6: the direction the difficulty prescribes against the other one.
      const ab = ablationRuns(rec, m.key, t.key);
      const c8 = diff ? `On a${diff.difficulty === "easy" ? "n easy" : " hard"} target, the ${diff.direction} angles are the better choice at most top-k (Fig. 6)` : "The difficulty's direction is the better choice at most top-k (Fig. 6)";
      if (diff && ab.topk.length) {
        const good = diff.direction === "largest" ? ab.largest : ab.smallest;
        const bad = diff.direction === "largest" ? ab.smallest : ab.largest;
        const cmp = ab.topk.map((k, i) => ({ k, g: good[i]?.result?.testAcc, b: bad[i]?.result?.testAcc })).filter((x) => x.g !== undefined && x.b !== undefined);
        if (cmp.length) {
          const wins = cmp.filter((x) => x.g! > x.b!).length;
          claims.push({ source: "Fig. 6, Sec. 4.5", scope, claim: c8, verdict: wins * 2 > cmp.length ? "yes" : "no", detail: `${t.key} is ${diff.difficulty} by the rule; ${diff.direction} wins at ${wins} of ${cmp.length} top-k (${cmp.map((x) => `top-${x.k}: ${points(x.g! - x.b!)}`).join(", ")}; seed 0)` });
        } else na("Fig. 6, Sec. 4.5", scope, c8, "ablation runs missing");
      }

      // Table 3.
      const soups = soupsOf(rec, m.key, t.key);
      const sf = soups.fft?.soup;
      const sp = soups.fapft?.soup;
      if (sf && sp && sf.testAcc !== null && sp.testAcc !== null) {
        const pf = sf.trainedParams;
        const pp = sp.trainedParams;
        claims.push({ source: "Table 3", scope, claim: "The FAPFT soup is more accurate than the full-fine-tuning soup", verdict: sp.testAcc > sf.testAcc ? "yes" : "no", detail: `${points(sp.testAcc - sf.testAcc)} points: ${(sp.testAcc * 100).toFixed(2)} vs ${(sf.testAcc * 100).toFixed(2)} (one soup each)` });
        if (pf !== null && pp !== null) claims.push({ source: "Table 3", scope, claim: "The FAPFT soup trains fewer parameters than the full-fine-tuning soup", verdict: pp < pf ? "yes" : "no", detail: `${pp.toLocaleString("en-US")} vs ${pf.toLocaleString("en-US")}` });
        for (const [name, s] of [["full-fine-tuning", soups.fft!], ["FAPFT", soups.fapft!]] as const) {
          const ing = s.ingredients.map((i) => i.testAcc).filter((x): x is number => x !== null);
          const bestIng = Math.max(...ing);
          claims.push({ source: "Sec. 4.3-4.4", scope, claim: `The ${name} soup beats its best ingredient`, verdict: s.soup!.testAcc! > bestIng ? "yes" : "no", detail: `${points(s.soup!.testAcc! - bestIng)} points: soup ${(s.soup!.testAcc! * 100).toFixed(2)} vs best run ${(bestIng * 100).toFixed(2)} (ingredient mean ${((mean(ing) ?? 0) * 100).toFixed(2)})` });
        }
      } else if (soups.fft || soups.fapft) na("Table 3", scope, "The FAPFT soup is more accurate than the full-fine-tuning soup", "soups missing");
    }

    // Table 4: corruptions and out-of-distribution data.
    for (const rb of rec.robustness.filter((x) => x.model === m.key)) {
      const scope = `${m.key} on ${rb.target}`;
      const row = (label: string) => rb.rows.find((r) => r.label === label);
      const full = row("Full fine-tuning");
      const fapft = row("FAPFT");
      const pc = (x: number) => (x * 100).toFixed(2);
      if (full?.mce != null && fapft?.mce != null) {
        claims.push({ source: "Table 4", scope, claim: "FAPFT is more robust to corruptions than full fine-tuning (lower mCE)", verdict: fapft.mce < full.mce ? "yes" : "no", detail: `mCE ${pc(fapft.mce)} vs ${pc(full.mce)} (${rb.corruption.images} test images x ${rb.corruption.types} corruptions x 5 severities; one seed)` });
        const partial = ["ATTN-only", "FFN-only", "FAPFT"].map(row).filter((r): r is NonNullable<typeof r> => r?.mce != null);
        const lower = partial.filter((r) => r.mce! < full.mce!);
        claims.push({ source: "Table 4, Sec. 4.4", scope, claim: "Partial fine-tuning (ATTN-only, FFN-only, FAPFT) is more robust than full fine-tuning", verdict: lower.length === partial.length ? "yes" : "no", detail: `${lower.length} of ${partial.length} have a lower mCE: ${partial.map((r) => `${r.label} ${pc(r.mce!)}`).join(", ")} vs full ${pc(full.mce)}` });
      }
      if (rb.ood && full?.oodAcc != null && fapft?.oodAcc != null) {
        claims.push({ source: "Table 4", scope, claim: `FAPFT is more accurate out of distribution (${rb.ood.dataset}) than full fine-tuning`, verdict: fapft.oodAcc > full.oodAcc ? "yes" : "no", detail: `${points(fapft.oodAcc - full.oodAcc)} points: ${pc(fapft.oodAcc)} vs ${pc(full.oodAcc)} on ${rb.ood.images} images (one seed)` });
      }
      const sf = row("Soup-FFT");
      const sp = row("Soup-FAPFT");
      if (sf?.mce != null && sp?.mce != null) {
        const better = sp.mce < sf.mce && (sp.oodAcc == null || sf.oodAcc == null || sp.oodAcc > sf.oodAcc);
        claims.push({ source: "Table 4", scope, claim: "The FAPFT soup is more robust than the full-fine-tuning soup (mCE and out-of-distribution accuracy)", verdict: better ? "yes" : "no", detail: `mCE ${pc(sp.mce)} vs ${pc(sf.mce)}${sp.oodAcc != null && sf.oodAcc != null ? `; out of distribution ${pc(sp.oodAcc)} vs ${pc(sf.oodAcc)}` : ""}` });
      }
    }

    // Fig. 4, per model: consistent across hyper-parameters and epochs, not across datasets.
    const tauOf = (axis: ConsistencyRecord["axis"]) => mean(consistencyOf(rec, m.key, axis).map((c) => c.meanTau).filter((x): x is number => x !== null));
    const tLr = tauOf("lr");
    const tEp = tauOf("epochs");
    const tDs = tauOf("dataset");
    const tSeed = tauOf("seed");
    const c9 = "Angle rankings agree across learning rates and epochs, and less across datasets (Fig. 4)";
    if (tLr !== null && tEp !== null && tDs !== null) {
      claims.push({ source: "Fig. 4, Sec. 3.2", scope: m.key, claim: c9, verdict: Math.min(tLr, tEp) > tDs ? "yes" : "no", detail: `mean Kendall tau: learning rates ${tLr.toFixed(2)}, epochs ${tEp.toFixed(2)}, datasets ${tDs.toFixed(2)}${tSeed !== null ? `, seeds ${tSeed.toFixed(2)}` : ""}` });
    } else if (rec.consistency.some((c) => c.model === m.key)) na("Fig. 4, Sec. 3.2", m.key, c9, "some rankings are missing");

    // Fig. 5: computational cost.
    for (const c of (rec.cost ?? []).filter((x) => x.model === m.key)) costClaims(c, claims);
  }
  return claims;
}
