// Non-finite weights (NaN, +Inf, -Inf) are refused where they are read: a corrupted download or a
// diverged run is an input error, found before any training or writing. The check works on a
// tensor's raw bytes as the reader delivers them, one tensor at a time (no second copy of the
// weights), by the exponent bits alone: a value is non-finite exactly when its exponent is all
// ones, in every IEEE format (float16, bfloat16, float32, float64).
//
//   assertFiniteBytes("ckpt.safetensors", "pos_embed", bytes, "float32");
//   // PftError("numeric", "ckpt.safetensors: tensor 'pos_embed' holds NaN (1 of 4,800 values)")
import { endianness } from "node:os";
import { PftError } from "../errors.js";
import type { DType } from "../engine/tensor.js";

const LITTLE_ENDIAN = endianness() === "LE";

/** How many values of a tensor are NaN, +Inf and -Inf. */
export interface NonFiniteCount {
  nan: number;
  posInf: number;
  negInf: number;
  numel: number;
}

/**
 * True when every value of `bytes` (a tensor of `dtype` in little-endian order, as safetensors
 * stores it) is finite; integer and bool dtypes are always finite. The fast path of the check.
 */
export function bytesAreFinite(bytes: Uint8Array, dtype: DType): boolean {
  switch (dtype) {
    case "float32":
      return LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 ? finite32(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2)) : noneCounted(bytes, dtype);
    case "float64":
      // The exponent sits in the high word of each value: the odd 32-bit words on a little-endian host.
      return LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 ? finite64(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2)) : noneCounted(bytes, dtype);
    case "float16":
      return finite16(bytes, 0x7c00);
    case "bfloat16":
      return finite16(bytes, 0x7f80);
    default:
      return true;
  }
}

/** Branch-free per element: (exponent bits + one exponent step) overflows into the sign bit only for an all-ones exponent. */
function finite32(words: Int32Array): boolean {
  const n = words.length;
  let acc = 0;
  for (let i = 0; i < n; i++) acc |= ((words[i] & 0x7f800000) + 0x00800000) | 0;
  return acc >= 0;
}

function finite64(words: Int32Array): boolean {
  const n = words.length;
  let acc = 0;
  for (let i = 1; i < n; i += 2) acc |= ((words[i] & 0x7ff00000) + 0x00100000) | 0;
  return acc >= 0;
}

function finite16(bytes: Uint8Array, mask: number): boolean {
  const n = bytes.byteLength;
  for (let i = 0; i < n; i += 2) if (((bytes[i] | (bytes[i + 1] << 8)) & mask) === mask) return false;
  return true;
}

/** The unaligned (or big-endian) path: rare, so the slow count does. */
function noneCounted(bytes: Uint8Array, dtype: DType): boolean {
  const c = countNonFinite(bytes, dtype);
  return c.nan + c.posInf + c.negInf === 0;
}

/** Counts the NaN and infinite values (the slow path, for the message once a tensor failed). */
export function countNonFinite(bytes: Uint8Array, dtype: DType): NonFiniteCount {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: ((i: number) => number) | null =
    dtype === "float32"
      ? (i) => view.getFloat32(i * 4, true)
      : dtype === "float64"
        ? (i) => view.getFloat64(i * 8, true)
        : dtype === "float16"
          ? (i) => half(view.getUint16(i * 2, true), 5, 10)
          : dtype === "bfloat16"
            ? (i) => half(view.getUint16(i * 2, true), 8, 7)
            : null;
  const size = dtype === "float64" ? 8 : dtype === "float32" ? 4 : 2;
  const numel = read ? bytes.byteLength / size : 0;
  const c: NonFiniteCount = { nan: 0, posInf: 0, negInf: 0, numel };
  for (let i = 0; i < numel; i++) {
    const v = read!(i);
    if (Number.isNaN(v)) c.nan++;
    else if (v === Infinity) c.posInf++;
    else if (v === -Infinity) c.negInf++;
  }
  return c;
}

/** A float16 (5, 10) or bfloat16 (8, 7) value as far as finiteness goes: 0 for every finite one, else NaN or +-Inf. */
function half(bits: number, expBits: number, mantBits: number): number {
  const expMask = (1 << expBits) - 1;
  const exp = (bits >> mantBits) & expMask;
  if (exp !== expMask) return 0;
  return (bits & ((1 << mantBits) - 1)) !== 0 ? NaN : bits & 0x8000 ? -Infinity : Infinity;
}

/** "NaN", "Inf", "-Inf" or a combination, with the count: "NaN (1 of 4,800 values)". */
export function describeNonFinite(c: NonFiniteCount): string {
  const kinds = [c.nan && "NaN", c.posInf && "Inf", c.negInf && "-Inf"].filter(Boolean).join(" and ");
  const bad = c.nan + c.posInf + c.negInf;
  return `${kinds} (${bad.toLocaleString("en-US")} of ${c.numel.toLocaleString("en-US")} values)`;
}

/** PftError("numeric") naming the file and the tensor when `bytes` hold a NaN or an infinity. */
export function assertFiniteBytes(path: string, name: string, bytes: Uint8Array, dtype: DType): void {
  if (bytesAreFinite(bytes, dtype)) return;
  throw new PftError("numeric", `${path}: tensor '${name}' holds ${describeNonFinite(countNonFinite(bytes, dtype))}`);
}
