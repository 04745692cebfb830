// Corruption Error and mCE, exactly as Hendrycks' test code and SSF's validate_ood.py compute them:
//
//   CE_c = sum_s E_{s,c} / sum_s E^ref_{s,c}        (s = severity 1..5)
//   mCE  = mean of CE_c over the 15 standard corruptions (the 4 extra ones never enter it)
//
// SSF divides each severity's error by AlexNet's error averaged over the severities and averages
// the 75 ratios; with 5 severities per type that is the same number. The paper normalises by
// AlexNet; pft's reference is the nearest-class-mean classifier (reference.ts, docs/robustness.md).
// Hendrycks' relative mCE, sum_s (E_{s,c} - E_clean) / sum_s (E^ref_{s,c} - E^ref_clean), comes along.
// Errors are fractions in [0, 1]; CE and mCE are ratios (the paper prints them x100).
import { PftError } from "../errors.js";
import { EXTRA_CORRUPTIONS, STANDARD_CORRUPTIONS, SEVERITIES, type CorruptionName } from "./corruptions.js";

/** One classifier's errors: clean, and per corruption the five severities' errors (index 0 = severity 1). */
export interface CorruptionErrors {
  clean: number;
  errors: Partial<Record<CorruptionName, number[]>>;
}

export interface MceResult {
  /** CE of every corruption measured (standard and extra). */
  ce: Partial<Record<CorruptionName, number>>;
  /** Mean CE over the 15 standard corruptions. */
  mce: number;
  /** Relative CE per corruption; null where the reference's error does not rise above its clean error. */
  relativeCe: Partial<Record<CorruptionName, number | null>>;
  /** Mean relative CE over the standard corruptions; null when any of them is null. */
  relativeMce: number | null;
  /** The unnormalised mean error over the 15 x 5 standard corrupted sets. */
  meanError: number;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

function fiveErrors(e: CorruptionErrors, name: CorruptionName, who: string): number[] {
  const v = e.errors[name];
  if (!v) throw new PftError("argument", `mCE: ${who} has no errors for ${name}`);
  if (v.length !== SEVERITIES.length || v.some((x) => !(x >= 0 && x <= 1))) {
    throw new PftError("argument", `mCE: ${who}'s errors for ${name} must be ${SEVERITIES.length} fractions in [0, 1], got [${v.join(", ")}]`);
  }
  return v;
}

/** CE per corruption and mCE of `model` against `reference` (both measured on the same corrupted images). */
export function computeMce(model: CorruptionErrors, reference: CorruptionErrors): MceResult {
  const ce: MceResult["ce"] = {};
  const relativeCe: MceResult["relativeCe"] = {};
  const measured = [...STANDARD_CORRUPTIONS, ...EXTRA_CORRUPTIONS.filter((n) => model.errors[n] && reference.errors[n])];
  for (const name of measured) {
    const e = fiveErrors(model, name, "the model");
    const r = fiveErrors(reference, name, "the reference");
    const denom = sum(r);
    if (!(denom > 0)) throw new PftError("numeric", `mCE: the reference makes no error on ${name}, so its CE is undefined`);
    ce[name] = sum(e) / denom;
    const relDenom = sum(r.map((x) => x - reference.clean));
    relativeCe[name] = relDenom > 0 ? sum(e.map((x) => x - model.clean)) / relDenom : null;
  }
  const std = STANDARD_CORRUPTIONS.map((n) => ce[n]!);
  const rel = STANDARD_CORRUPTIONS.map((n) => relativeCe[n]);
  return {
    ce,
    mce: sum(std) / std.length,
    relativeCe,
    relativeMce: rel.every((v) => v !== null && v !== undefined) ? sum(rel as number[]) / rel.length : null,
    meanError: sum(STANDARD_CORRUPTIONS.map((n) => sum(model.errors[n]!))) / (STANDARD_CORRUPTIONS.length * SEVERITIES.length),
  };
}
