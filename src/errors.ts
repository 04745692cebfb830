// One error type for the whole project. `code` says what kind of problem it is, so callers
// (and the CLI, which prints one line and exits non-zero) can react without parsing messages.

export type PftErrorCode =
  | "engine" // libtorch refused an op (shape mismatch, wrong dtype, ...)
  | "disposed" // a tensor was used after dispose()
  | "argument" // a bad argument to a pft function
  | "shape"
  | "dtype"
  | "checkpoint" // malformed, truncated or mismatched checkpoint
  | "config" // unknown model, impossible top-k, bad options
  | "data" // missing or malformed dataset
  | "numeric" // NaN/Inf where a finite value is required
  | "io";

/** A finer kind within a code, for the callers that react to exactly that case. */
export type PftErrorReason =
  | "resume-mismatch"; // (config) a run directory's checkpoint was made by another configuration, model, data or plan

export class PftError extends Error {
  readonly code: PftErrorCode;
  readonly reason: PftErrorReason | undefined;
  constructor(code: PftErrorCode, message: string, options?: { cause?: unknown; reason?: PftErrorReason }) {
    super(message, options);
    this.name = "PftError";
    this.code = code;
    this.reason = options?.reason;
  }
}

export function isPftError(e: unknown): e is PftError {
  return e instanceof PftError;
}
