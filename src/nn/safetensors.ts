// safetensors: the checkpoint format shared with PyTorch / Hugging Face (huggingface/safetensors).
//
//   [u64 LE header length N][N bytes of JSON header][data buffer]
//   header = {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
//
// Offsets are relative to the start of the data buffer, and the buffer must be indexed exactly:
// no overlaps, no holes, no trailing bytes.
//
//   writeSafetensors(path, model.stateDict(), { format: "pt" });  // atomic, one tensor in memory at a time
//   using r = openSafetensors(path);                               // header only; get() reads one tensor
//   const w = r.get("blocks.0.attn.qkv.weight");
//   const raw = r.readInto("head.weight", buf);                    // its bytes, into a reused buffer
//
// When the values are computed one at a time (a soup), the streaming writer takes the header from
// names, dtypes and shapes alone, then the bytes in layout order; writeSafetensors is built on it:
//
//   using w = SafetensorsStreamWriter.create(out, entries, metadata); // header written
//   for (const e of w.order) w.write(e.name, bytesOf(e.name));       // in w.order, one at a time
//   w.commit();                                                       // fsync + rename: atomic
//
// Layout written, as the reference writer does: the header is padded with spaces to a multiple of
// 8 bytes, and tensors are sorted by dtype (widest first, in the reference's dtype order) and then
// by name (UTF-8 byte order). Widest-first makes every tensor's offset a multiple of its item size
// without padding, which the no-holes rule forbids.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PftError, isPftError } from "../errors.js";
import { tempPathFor } from "../files.js";
import { Tensor, type DType } from "../engine/tensor.js";
import { isFloatingDType } from "../engine/tensor.js";
import { scope } from "../engine/scope.js";
import { assertFiniteBytes } from "./finite.js";

/** How a reader treats the values it reads. */
export interface ReadOptions {
  /**
   * Deliver NaN and infinite values instead of refusing them (forensics: `pft eval` and `pft angles`
   * --allow-nonfinite). By default every floating-point tensor read is checked, and a non-finite
   * value is PftError("numeric") naming the file and the tensor.
   */
  allowNonfinite?: boolean;
}

/** dtype names used in safetensors headers, for the dtypes pft has. */
export type SafetensorsDType = "BOOL" | "U8" | "I8" | "I16" | "F16" | "BF16" | "I32" | "F32" | "F64" | "I64";

/** In the reference's `Dtype` enum order (the writer sorts by it, descending). */
const DTYPES: readonly { st: SafetensorsDType; dtype: DType; itemsize: number }[] = [
  { st: "BOOL", dtype: "bool", itemsize: 1 },
  { st: "U8", dtype: "uint8", itemsize: 1 },
  { st: "I8", dtype: "int8", itemsize: 1 },
  { st: "I16", dtype: "int16", itemsize: 2 },
  { st: "F16", dtype: "float16", itemsize: 2 },
  { st: "BF16", dtype: "bfloat16", itemsize: 2 },
  { st: "I32", dtype: "int32", itemsize: 4 },
  { st: "F32", dtype: "float32", itemsize: 4 },
  { st: "F64", dtype: "float64", itemsize: 8 },
  { st: "I64", dtype: "int64", itemsize: 8 },
];
const BY_ST = new Map(DTYPES.map((d, rank) => [d.st as string, { ...d, rank }]));
const BY_DTYPE = new Map(DTYPES.map((d, rank) => [d.dtype, { ...d, rank }]));

function dtypeInfo(dtype: DType) {
  const d = BY_DTYPE.get(dtype);
  if (!d) throw new PftError("dtype", `dtype ${dtype} has no safetensors name`);
  return d;
}

/** Bytes per element of `dtype` (PftError("dtype") for one safetensors cannot hold). */
export function dtypeItemSize(dtype: DType): number {
  return dtypeInfo(dtype).itemsize;
}

/** The safetensors header name of `dtype`, e.g. "F32" for float32 (PftError("dtype") if it has none). */
export function safetensorsDTypeOf(dtype: DType): SafetensorsDType {
  return dtypeInfo(dtype).st;
}

/** The dtype a safetensors header name stands for, e.g. float32 for "F32"; undefined for one pft does not read. */
export function dtypeOfSafetensors(st: string): DType | undefined {
  return BY_ST.get(st)?.dtype;
}

/** The reference reader's limit on the header length. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

/** One tensor as described by the header. */
export interface SafetensorsEntry {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly byteLength: number;
  /** [begin, end) relative to the start of the data buffer. */
  readonly dataOffsets: readonly [number, number];
}

// ---------------------------------------------------------------------------------------------- reading

/**
 * A validated safetensors file, open for reading one tensor at a time.
 * Tensors from get() belong to the open scope, like any new tensor. close() (or `using`) releases the file.
 */
export class SafetensorsReader implements Disposable {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  #fd: number | null;
  readonly #entries: ReadonlyMap<string, SafetensorsEntry>;
  readonly #dataStart: number;
  #scratch = new Uint8Array(0);
  readonly #checkFinite: boolean;

  private constructor(path: string, fd: number, entries: Map<string, SafetensorsEntry>, metadata: Record<string, string>, dataStart: number, options: ReadOptions) {
    this.path = path;
    this.#checkFinite = options.allowNonfinite !== true;
    this.#fd = fd;
    this.#entries = entries;
    this.metadata = Object.freeze(metadata);
    this.#dataStart = dataStart;
  }

  /** Same as openSafetensors(path, options). */
  static open(path: string, options: ReadOptions = {}): SafetensorsReader {
    const fd = ioCall(path, "cannot open", () => openSync(path, "r"));
    try {
      const size = ioCall(path, "cannot stat", () => fstatSync(fd));
      if (!size.isFile()) throw new PftError("io", `${path}: not a regular file`);
      const { entries, metadata, dataStart } = parseHeader(path, fd, size.size);
      return new SafetensorsReader(path, fd, entries, metadata, dataStart, options);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Tensor names in file (data offset) order. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }
  has(name: string): boolean {
    return this.#entries.has(name);
  }
  get size(): number {
    return this.#entries.size;
  }
  /** Every tensor's entry, in file (data offset) order. */
  get entries(): ReadonlyMap<string, SafetensorsEntry> {
    return this.#entries;
  }
  entry(name: string): SafetensorsEntry {
    const e = this.#entries.get(name);
    if (!e) throw new PftError("checkpoint", `${this.path}: no tensor named ${JSON.stringify(name)}`);
    return e;
  }

  /** Where the data buffer starts in the file: entry(name).dataOffsets are relative to it. */
  get dataStart(): number {
    return this.#dataStart;
  }

  /** Reads just this tensor's bytes from the file (on the CPU, in the file's dtype). */
  get(name: string): Tensor {
    const e = this.entry(name);
    const bytes = this.#read(name, new Uint8Array(e.byteLength));
    const t = Tensor.fromBytes(bytes, e.shape, e.dtype);
    // libtorch's vectorised sum is the fast test: it is non-finite whenever a value is (NaN and Inf
    // propagate), and a finite tensor whose sum overflows is told apart by the exact check.
    if (this.#checkFinite && isFloatingDType(e.dtype) && e.byteLength > 0) {
      let total: number;
      try {
        total = scope(() => t.sum().item());
      } catch (err) {
        t.dispose();
        throw err;
      }
      if (!Number.isFinite(total)) {
        try {
          assertFiniteBytes(this.path, name, bytes, e.dtype);
        } catch (err) {
          t.dispose();
          throw err;
        }
      }
    }
    return t;
  }

  /** A fresh copy of one tensor's raw bytes, in the file's dtype (no libtorch tensor). */
  bytes(name: string): Uint8Array {
    return this.readInto(name, new Uint8Array(this.entry(name).byteLength));
  }

  /** Like bytes(), but into a buffer of this reader (grown as needed) that the next view() overwrites. */
  view(name: string): Uint8Array {
    const n = this.entry(name).byteLength;
    if (this.#scratch.byteLength < n) this.#scratch = new Uint8Array(n);
    return this.readInto(name, this.#scratch);
  }

  /**
   * Reads one tensor's raw bytes into the start of `target` (at least entry(name).byteLength long,
   * e.g. a buffer reused from tensor to tensor) and returns that part of it.
   */
  readInto(name: string, target: Uint8Array): Uint8Array {
    const bytes = this.#read(name, target);
    if (this.#checkFinite) assertFiniteBytes(this.path, name, bytes, this.entry(name).dtype);
    return bytes;
  }

  /** readInto without the value check. */
  #read(name: string, target: Uint8Array): Uint8Array {
    const e = this.entry(name);
    const fd = this.#fd;
    if (fd === null) throw new PftError("argument", `${this.path}: reader is closed`);
    if (target.byteLength < e.byteLength) {
      throw new PftError("argument", `${this.path}: tensor ${JSON.stringify(name)} needs ${e.byteLength} bytes, the buffer holds ${target.byteLength}`);
    }
    return readFully(this.path, fd, this.#dataStart + e.dataOffsets[0], target.subarray(0, e.byteLength), (missing) => {
      return new PftError("checkpoint", `${this.path}: tensor ${JSON.stringify(name)}: file ends ${missing} bytes early (truncated after it was opened?)`);
    });
  }

  /** Closes the file. Safe to call twice. */
  close(): void {
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    closeSync(fd);
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens and validates a safetensors file; nothing but the header is read until get().
 * Malformed files throw PftError("checkpoint", "<path>: <problem>"); filesystem failures PftError("io");
 * a NaN or infinite value, when a tensor holding one is read, PftError("numeric") (see ReadOptions).
 */
export function openSafetensors(path: string, options: ReadOptions = {}): SafetensorsReader {
  return SafetensorsReader.open(path, options);
}

/** Every tensor in the file (read one at a time through the lazy reader), with the metadata. */
export function readSafetensors(path: string, options: ReadOptions = {}): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const reader = openSafetensors(path, options);
  const tensors = new Map<string, Tensor>();
  try {
    for (const name of reader.keys()) tensors.set(name, reader.get(name));
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  } finally {
    reader.close();
  }
  return { tensors, metadata: { ...reader.metadata } };
}

function parseHeader(path: string, fd: number, fileSize: number) {
  const bad = (msg: string) => new PftError("checkpoint", `${path}: ${msg}`);
  if (fileSize < 8) throw bad(`file is ${fileSize} bytes, shorter than the 8-byte header length (not a safetensors file?)`);

  const lenBytes = readExact(path, fd, 0, 8);
  const n64 = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n64} is absurdly large (over ${MAX_HEADER_BYTES} bytes; not a safetensors file?)`);
  const n = Number(n64);
  if (8 + n > fileSize) throw bad(`header length ${n} runs past the end of the file (${fileSize} bytes); the file is truncated or not safetensors`);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(readExact(path, fd, 8, n)));
  } catch (e) {
    throw bad(`header is not valid JSON (${firstLine((e as Error).message)})`);
  }
  if (!isPlainObject(header)) throw bad(`header is not a JSON object`);

  const metadata: Record<string, string> = {};
  const raw: [string, SafetensorsEntry][] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(value)) throw bad(`__metadata__ is not an object of strings`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") throw bad(`__metadata__ value for ${JSON.stringify(k)} is not a string`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    raw.push([name, parseEntry(bad, name, value)]);
  }

  // The buffer must be covered exactly once: sort by offsets and walk it.
  const bufferSize = fileSize - 8 - n;
  raw.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let prev: [string, SafetensorsEntry] | null = null;
  for (const item of raw) {
    const [name, e] = item;
    const [begin, end] = e.dataOffsets;
    if (end > bufferSize) {
      throw bad(`tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] run past the end of the ${bufferSize}-byte data buffer; the file is truncated`);
    }
    if (begin < covered && prev) {
      const [pn, pe] = prev;
      throw bad(`tensors ${JSON.stringify(pn)} [${pe.dataOffsets.join(", ")}] and ${JSON.stringify(name)} [${begin}, ${end}] overlap`);
    }
    if (begin > covered) throw bad(`hole in the data buffer: bytes [${covered}, ${begin}) belong to no tensor`);
    covered = end;
    prev = item;
  }
  if (covered < bufferSize) throw bad(`hole in the data buffer: bytes [${covered}, ${bufferSize}) at its end belong to no tensor`);

  return { entries: new Map(raw), metadata, dataStart: 8 + n };
}

function parseEntry(bad: (msg: string) => PftError, name: string, value: unknown): SafetensorsEntry {
  const what = `tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(value)) throw bad(`${what}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };

  const d = typeof dtype === "string" ? BY_ST.get(dtype) : undefined;
  if (!d) throw bad(`${what}: unknown dtype ${JSON.stringify(dtype) ?? "(missing)"} (pft reads ${DTYPES.map((x) => x.st).join(", ")})`);

  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw bad(`${what}: shape ${JSON.stringify(shape) ?? "(missing)"} is not an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw bad(`${what}: data_offsets ${JSON.stringify(offsets) ?? "(missing)"} are not two non-negative integers [begin, end] with begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const want = numel * d.itemsize;
  if (!Number.isSafeInteger(want) || want !== end - begin) {
    throw bad(`${what}: shape/byte-count mismatch: shape [${shape.join(", ")}] of ${d.st} needs ${want} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return Object.freeze({ dtype: d.dtype, shape: Object.freeze([...(shape as number[])]), byteLength: want, dataOffsets: Object.freeze([begin, end]) as readonly [number, number] });
}

function readExact(path: string, fd: number, position: number, length: number): Uint8Array {
  return readFully(path, fd, position, new Uint8Array(length), () => new PftError("checkpoint", `${path}: file ended while reading its header (truncated)`));
}

/** Fills `buf` from the file at `position`; `short(bytes missing)` is the error if the file ends first. */
function readFully(path: string, fd: number, position: number, buf: Uint8Array, short: (missing: number) => PftError): Uint8Array {
  let done = 0;
  while (done < buf.byteLength) {
    const n = ioCall(path, "cannot read", () => readSync(fd, buf, done, buf.byteLength - done, position + done));
    if (n === 0) throw short(buf.byteLength - done);
    done += n;
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------- writing

/** What the writer needs of a tensor before its values exist. */
export interface SafetensorsStreamEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** A tensor placed in the layout: its bytes go to dataOffsets of the data buffer. */
export interface SafetensorsPlacedEntry extends SafetensorsEntry {
  readonly name: string;
}

/**
 * Writes a safetensors file whose values arrive one tensor at a time, in `order` (the layout: see
 * the top of this file). create() writes the header to a temporary file in the same directory;
 * commit() fsyncs it, renames it over the target and fsyncs the directory. Disposing (or abort())
 * before commit() removes the temporary file and leaves the target as it was.
 */
export class SafetensorsStreamWriter implements Disposable {
  readonly path: string;
  /** The layout order: write() takes the tensors in exactly this order. */
  readonly order: readonly SafetensorsPlacedEntry[];
  readonly #tmp: string;
  #fd: number | null;
  #next = 0;
  #committed = false;

  private constructor(path: string, order: SafetensorsPlacedEntry[], tmp: string, fd: number) {
    this.path = path;
    this.order = order;
    this.#tmp = tmp;
    this.#fd = fd;
  }

  /**
   * Lays out `entries`, opens the temporary file and writes the header. Bad names, dtypes or
   * metadata throw before any file is created.
   */
  static create(path: string, entries: Iterable<SafetensorsStreamEntry>, metadata?: Readonly<Record<string, string>>): SafetensorsStreamWriter {
    const order = planLayout(path, entries);
    const header = encodeHeader(path, order, metadata);
    const tmp = tempPathFor(path);
    const fd = ioCall(path, "cannot create a temporary file", () => openSync(tmp, "wx", 0o644));
    const w = new SafetensorsStreamWriter(path, order, tmp, fd);
    try {
      w.#writeAll(header);
    } catch (e) {
      w.abort();
      throw e;
    }
    return w;
  }

  /** The next tensor's bytes: `name` must be the next in `order`, `bytes` exactly its byteLength. */
  write(name: string, bytes: Uint8Array): void {
    const p = this.order[this.#next];
    if (!p) throw new PftError("argument", `${this.path}: tensor '${name}' written after the last one`);
    if (p.name !== name) throw new PftError("argument", `${this.path}: tensor '${name}' written where '${p.name}' comes next`);
    if (bytes.byteLength !== p.byteLength) {
      throw new PftError("engine", `${this.path}: tensor ${JSON.stringify(name)} gave ${bytes.byteLength} bytes, expected ${p.byteLength}`);
    }
    try {
      this.#writeAll(bytes);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.#next++;
  }

  /** Makes the file appear at `path` (every tensor must have been written). */
  commit(): void {
    if (this.#next !== this.order.length) {
      const missing = this.order[this.#next].name;
      this.abort();
      throw new PftError("argument", `${this.path}: committed with ${this.order.length - this.#next} tensors unwritten (next: '${missing}')`);
    }
    const fd = this.#fd;
    if (fd === null) throw new PftError("argument", `${this.path}: writer already closed`);
    try {
      ioCall(this.path, "cannot sync", () => fsyncSync(fd));
      this.#fd = null;
      ioCall(this.path, "cannot close", () => closeSync(fd));
      ioCall(this.path, "cannot rename the temporary file onto it", () => renameSync(this.#tmp, this.path));
      this.#committed = true;
    } catch (e) {
      this.abort();
      throw e;
    }
    syncDir(dirname(resolve(this.path)));
  }

  /** Drops the temporary file; the target is left as it was. Safe to call twice or after commit(). */
  abort(): void {
    if (this.#committed) return;
    if (this.#fd !== null) {
      try {
        closeSync(this.#fd);
      } catch {
        // already failing; the original error is the one to report
      }
      this.#fd = null;
    }
    rmSync(this.#tmp, { force: true });
  }
  [Symbol.dispose](): void {
    this.abort();
  }

  #writeAll(bytes: Uint8Array): void {
    const fd = this.#fd;
    if (fd === null) throw new PftError("argument", `${this.path}: writer already closed`);
    let done = 0;
    while (done < bytes.byteLength) done += ioCall(this.path, "cannot write", () => writeSync(fd, bytes, done, bytes.byteLength - done));
  }
}

/**
 * Writes `tensors` (and optional string metadata) to `path` as safetensors, through
 * SafetensorsStreamWriter: one tensor's bytes are in memory at a time, and the write is atomic
 * (on any failure the temporary file is removed and `path` is left as it was).
 */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Iterable<readonly [string, Tensor]>,
  metadata?: Readonly<Record<string, string>>,
): void {
  const byName = new Map<string, Tensor>();
  using w = SafetensorsStreamWriter.create(path, describeTensors(path, tensors, byName), metadata);
  for (const { name } of w.order) {
    const t = byName.get(name)!;
    w.write(name, tensorCall(path, name, () => t.bytes()));
  }
  w.commit();
}

/**
 * Entries for `tensors`, collecting them by name into `byName`. Lazy: planLayout checks each name
 * before the tensor's dtype and shape are asked for (a disposed tensor's error names it).
 */
function* describeTensors(path: string, tensors: ReadonlyMap<string, Tensor> | Iterable<readonly [string, Tensor]>, byName: Map<string, Tensor>): Generator<SafetensorsStreamEntry> {
  for (const [name, tensor] of tensors) {
    byName.set(name, tensor);
    let info: { dtype: DType; shape: readonly number[] } | undefined;
    const described = () => (info ??= tensorCall(path, name, () => ({ dtype: tensor.dtype, shape: tensor.shape })));
    yield {
      name,
      get dtype() {
        return described().dtype;
      },
      get shape() {
        return described().shape;
      },
    };
  }
}

/** The reference layout: dtype rank descending, then name in UTF-8 byte order, packed from offset 0. */
function planLayout(path: string, entries: Iterable<SafetensorsStreamEntry>): SafetensorsPlacedEntry[] {
  const list: { name: string; dtype: DType; shape: readonly number[]; rank: number; byteLength: number }[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    const name = e.name;
    if (typeof name !== "string") throw new PftError("argument", `${path}: tensor names must be strings, got ${typeof name}`);
    if (name === METADATA_KEY) throw new PftError("argument", `${path}: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (seen.has(name)) throw new PftError("argument", `${path}: tensor ${JSON.stringify(name)} given twice`);
    seen.add(name);
    const { dtype, shape } = e;
    const d = BY_DTYPE.get(dtype);
    if (!d) throw new PftError("dtype", `${path}: tensor ${JSON.stringify(name)}: dtype ${dtype} has no safetensors name`);
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw new PftError("argument", `${path}: tensor ${JSON.stringify(name)}: shape ${JSON.stringify(shape)} is not an array of non-negative integers`);
    }
    const byteLength = shape.reduce((a, b) => a * b, 1) * d.itemsize;
    if (!Number.isSafeInteger(byteLength)) throw new PftError("argument", `${path}: tensor ${JSON.stringify(name)}: shape [${shape.join(", ")}] is too large`);
    list.push({ name, dtype, shape: Object.freeze([...shape]), rank: d.rank, byteLength });
  }
  list.sort((a, b) => b.rank - a.rank || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  let offset = 0;
  return list.map(({ name, dtype, shape, byteLength }) => {
    const dataOffsets = Object.freeze([offset, offset + byteLength]) as readonly [number, number];
    offset += byteLength;
    return Object.freeze({ name, dtype, shape, byteLength, dataOffsets });
  });
}

function encodeHeader(path: string, order: readonly SafetensorsPlacedEntry[], metadata: Readonly<Record<string, string>> | undefined): Uint8Array {
  // Built by hand so the keys keep the layout order (a JS object would move integer-like names first).
  const fields: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new PftError("argument", `${path}: metadata value for ${JSON.stringify(k)} is not a string`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  for (const p of order) {
    const info = { dtype: BY_DTYPE.get(p.dtype)!.st, shape: p.shape, data_offsets: p.dataOffsets };
    fields.push(`${JSON.stringify(p.name)}:${JSON.stringify(info)}`);
  }
  const json = Buffer.from(`{${fields.join(",")}}`, "utf8");
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/** Makes the rename durable; not every filesystem allows fsync on a directory, so failures are ignored. */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------- helpers

function ioCall<R>(path: string, what: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (isPftError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new PftError("io", `${path}: ${what} (${err.code ?? firstLine(err.message ?? String(e))})`, { cause: e });
  }
}

/** Runs a tensor call, naming the tensor in the error. */
function tensorCall<R>(path: string, name: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (!isPftError(e)) throw e;
    throw new PftError(e.code, `${path}: tensor ${JSON.stringify(name)}: ${e.message}`, { cause: e });
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const firstLine = (s: string): string => s.split("\n", 1)[0];
