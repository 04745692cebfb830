// Value checks of the training flags, run before anything slow or lasting happens (the dataset is
// loaded, a directory created): a value that cannot mean what was asked is a one-line usage error
// quoting what was given, never silently clamped, disabled or left to libtorch to overflow on.
import { PftError } from "../errors.js";
import type { FlagValues } from "./args.js";

/** The largest finite float32: the optimizer computes in float32, so a larger rate overflows there. */
const FLOAT32_MAX = 3.4028234663852886e38;
/** More images per step than any machine pft runs on holds (2^20 28x28 images are ~3 GB as float32). */
export const MAX_BATCH_SIZE = 1 << 20;

const bad = (msg: string) => new PftError("argument", msg);

/** Checks the training flags of pretrain and finetune (see train.ts's trainingFlags). */
export function validateTrainingFlags(f: FlagValues): void {
  const val = f.val as number | undefined;
  if (val !== undefined && (val < 0 || (val >= 1 && !Number.isInteger(val)))) {
    throw bad(`--val takes a fraction in [0, 1) or a whole number of images, got ${val}`);
  }
  const batch = f["batch-size"] as number | undefined;
  if (batch !== undefined && (batch < 1 || batch > MAX_BATCH_SIZE)) {
    throw bad(`--batch-size needs 1 to ${MAX_BATCH_SIZE.toLocaleString("en-US")} images per step, got ${formatNumber(batch)}`);
  }
  for (const name of ["lr", "min-lr"]) {
    const v = f[name] as number | undefined;
    if (v === undefined) continue;
    if (v < 0 || (name === "lr" && v === 0)) throw bad(`--${name} needs a ${name === "lr" ? "positive" : "non-negative"} learning rate, got ${v}`);
    if (v > FLOAT32_MAX) throw bad(`--${name} ${v} is beyond float32 (the optimizer's precision, at most ~3.4e38)`);
  }
  const dropPath = f["drop-path"] as number | undefined;
  if (dropPath !== undefined && !(dropPath >= 0 && dropPath < 1)) throw bad(`--drop-path needs a rate in [0, 1), got ${dropPath}`);
  const epochs = f.epochs as number | undefined;
  if (epochs !== undefined && epochs < 1) throw bad(`--epochs needs at least 1 epoch, got ${epochs}`);
  for (const name of ["weight-decay", "clip-grad", "mixup", "cutmix"]) {
    const v = f[name] as number | undefined;
    if (v !== undefined && v < 0) throw bad(`--${name} needs a value >= 0, got ${v}`);
  }
  for (const name of ["label-smoothing", "ema"]) {
    const v = f[name] as number | undefined;
    if (v !== undefined && !(v >= 0 && v < 1)) throw bad(`--${name} needs a value in [0, 1), got ${v}`);
  }
  const perClass = f["train-per-class"] as number | undefined;
  if (perClass !== undefined && perClass < 1) throw bad(`--train-per-class needs at least 1 image per class, got ${perClass}`);
}

/** Integers as given (no exponent for large ones): 99999999999999999999 rather than 1e+20. */
function formatNumber(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(Math.trunc(n)).toString();
}
