// The one place the partial fine-tuning core opens weights: a safetensors file (timm's export,
// Hugging Face's, or pft's own), or a pft run / checkpoint directory holding `model.safetensors`.
// When the trainer's checkpoint format grows beyond safetensors, only this file changes.
//
// Weights stream one tensor at a time. openSafetensors validates the file and gives each tensor's
// dtype, shape and byte range; float32/float64 bytes are then read straight from the file into a
// buffer of the reader reused from tensor to tensor (its view(): no libtorch copy, no garbage), so
// reading two ViT-B checkpoints costs little more than the disk reads and holds one tensor per side
// in memory.
import { endianness } from "node:os";
import { isFloatingDType, scope } from "../engine/index.js";
import { PftError } from "../errors.js";
import { weightsFileOf } from "../files.js";
import { dtypeItemSize, openSafetensors, type ReadOptions, type SafetensorsReader } from "../nn/index.js";

/** A checkpoint open for reading, one tensor at a time. */
export interface WeightSource extends Disposable {
  /** The file actually read (a directory resolves to its model.safetensors). */
  readonly path: string;
  /**
   * Names and shapes of the floating-point tensors: the parameters. Integer tensors are buffers
   * (e.g. Swin's relative_position_index in timm exports) and are left out.
   */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** A copy of one tensor's values: float32 and float64 as stored, bf16/f16 widened to float32. */
  read(name: string): Float32Array | Float64Array;
  /** Like read(), but the array may share a buffer that the next view() on this source overwrites. */
  view(name: string): Float32Array | Float64Array;
  /**
   * Reads every tensor not read so far, so that a NaN or infinity outside what was used (e.g. in
   * pos_embed beside the residual units) is refused too; nothing is kept. A no-op when the source
   * was opened with allowNonfinite.
   */
  checkUnread(): void;
  close(): void;
}

/** The weights file a path names: the file itself, or DIR/model.safetensors for a pft run or checkpoint directory. */
export const resolveWeightsFile = weightsFileOf;

/** Opens a checkpoint (see resolveWeightsFile); only the header is read here. Non-finite values are refused as they are read, unless options allow them. */
export function openWeights(path: string, options: ReadOptions = {}): WeightSource {
  const file = resolveWeightsFile(path);
  const reader = openSafetensors(file, options);
  try {
    return new SafetensorsWeights(file, reader, options.allowNonfinite !== true);
  } catch (e) {
    reader.close();
    throw e;
  }
}

const LITTLE_ENDIAN = endianness() === "LE";

class SafetensorsWeights implements WeightSource {
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  readonly #read = new Set<string>();

  constructor(
    readonly path: string,
    private readonly reader: SafetensorsReader,
    private readonly checksValues: boolean,
  ) {
    const shapes = new Map<string, readonly number[]>();
    for (const k of reader.keys()) {
      const e = reader.entry(k);
      if (isFloatingDType(e.dtype)) shapes.set(k, e.shape);
    }
    if (shapes.size === 0) throw new PftError("checkpoint", `${path}: holds no floating-point tensors (not model weights)`);
    this.shapes = shapes;
  }

  read(name: string): Float32Array | Float64Array {
    return this.view(name).slice();
  }

  view(name: string): Float32Array | Float64Array {
    if (!this.shapes.has(name)) throw new PftError("checkpoint", `${this.path}: no floating-point tensor named '${name}'`);
    const e = this.reader.entry(name);
    this.#read.add(name);
    if (!LITTLE_ENDIAN || (e.dtype !== "float32" && e.dtype !== "float64")) {
      // bf16/f16 (and big-endian hosts): through libtorch, which widens to float32.
      return scope(() => this.reader.get(name).data() as Float32Array | Float64Array);
    }
    // The reader's reused buffer starts at offset 0 of its ArrayBuffer, so it is aligned for both.
    const bytes = this.reader.view(name);
    const n = e.byteLength / dtypeItemSize(e.dtype);
    return e.dtype === "float32" ? new Float32Array(bytes.buffer, bytes.byteOffset, n) : new Float64Array(bytes.buffer, bytes.byteOffset, n);
  }

  checkUnread(): void {
    if (!this.checksValues) return;
    for (const name of this.reader.keys()) if (!this.#read.has(name)) this.reader.view(name); // the reader refuses non-finite values
  }

  close(): void {
    this.reader.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}
