// Learning-rate schedules: pure functions of the optimizer step (nanoGPT's get_lr(it)).
//
//   opt.setLr(lrAt(iter, cfg.schedule)); opt.step();
import { PftError } from "../errors.js";

/** Linear warm-up, then half-cosine decay to minLr. */
export interface WarmupCosineSchedule {
  kind: "warmupCosine";
  /** Peak lr, reached at the end of warm-up. */
  baseLr: number;
  /** lr at step 0 (timm's warmup_lr_init). */
  warmupInit: number;
  /** Warm-up length in steps; 0 for none. */
  warmupSteps: number;
  /** Step at which the cosine reaches minLr (warm-up included); minLr from then on. */
  totalSteps: number;
  /** Floor of the decay (timm's lr_min). */
  minLr: number;
}

export interface ConstantSchedule {
  kind: "constant";
  baseLr: number;
}

export type LrSchedule = WarmupCosineSchedule | ConstantSchedule;

/**
 * timm's CosineLRScheduler with t_in_epochs=False, warmup_prefix=True, t_initial =
 * totalSteps - warmupSteps, cycle_limit=1, evaluated at step t (b = baseLr, w = warmupSteps,
 * T = totalSteps):
 *
 *   t <  w:       lr = warmupInit + t * ((b - warmupInit) / w)
 *   w <= t <= T:  lr = minLr + 0.5 * (b - minLr) * (1 + cos(pi * (t - w) / (T - w)))
 *   t >  T:       lr = minLr
 *
 * So lr(0) = warmupInit, lr(w) = b, lr((w + T) / 2) = (b + minLr) / 2, lr(T) = minLr.
 */
export function warmupCosine(step: number, s: Omit<WarmupCosineSchedule, "kind">): number {
  checkStep(step);
  const { baseLr, warmupInit, warmupSteps, totalSteps, minLr } = s;
  if (step < warmupSteps) return warmupInit + step * ((baseLr - warmupInit) / warmupSteps);
  if (step > totalSteps) return minLr;
  return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos((Math.PI * (step - warmupSteps)) / (totalSteps - warmupSteps)));
}

/** lr = baseLr at every step. */
export function constantLr(step: number, s: Omit<ConstantSchedule, "kind">): number {
  checkStep(step);
  return s.baseLr;
}

/** The lr of `schedule` at `step` (validates the schedule). */
export function lrAt(step: number, schedule: LrSchedule): number {
  checkSchedule(schedule);
  switch (schedule.kind) {
    case "warmupCosine":
      return warmupCosine(step, schedule);
    case "constant":
      return constantLr(step, schedule);
  }
}

/** Throws PftError("config") unless the schedule's numbers make sense. */
export function checkSchedule(s: LrSchedule): void {
  const lrs: [string, number][] = s.kind === "constant" ? [["baseLr", s.baseLr]] : [["baseLr", s.baseLr], ["warmupInit", s.warmupInit], ["minLr", s.minLr]];
  for (const [k, v] of lrs) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new PftError("config", `schedule ${k} must be a finite number >= 0, got ${v}`);
  }
  if (s.kind === "constant") return;
  if (s.kind !== "warmupCosine") throw new PftError("config", `unknown lr schedule ${(s as { kind: string }).kind}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new PftError("config", `schedule warmupSteps must be an integer >= 0, got ${s.warmupSteps}`);
  if (!Number.isInteger(s.totalSteps) || s.totalSteps <= s.warmupSteps) {
    throw new PftError("config", `schedule totalSteps (${s.totalSteps}) must be an integer > warmupSteps (${s.warmupSteps})`);
  }
}

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new PftError("argument", `lr schedule step must be an integer >= 0, got ${step}`);
}
