// Byte-level safetensors access for soups: a reader that hands out one tensor's raw bytes at a
// time (into a reused buffer), and a writer that lays out the header from entries alone and then
// takes the values one tensor at a time, so a soup is written as it is computed.
//
//   using w = SafetensorsStreamWriter.create(out, entries, metadata); // header written
//   for (const e of w.order) w.write(e.name, bytesOf(e.name));       // in w.order, one at a time
//   w.commit();                                                       // fsync + rename: atomic
//
// The layout is src/nn/safetensors.ts's (the reference writer's): header padded with spaces to a
// multiple of 8, tensors sorted by dtype (widest first, in the reference's dtype order) and then
// by name in UTF-8 byte order, so for the same tensors the bytes equal writeSafetensors' output.
// writeSafetensors needs every tensor up front to build its header; this writer needs only
// names, dtypes and shapes.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import type { DType } from "../engine/index.js";
import { PftError, isPftError } from "../errors.js";
import { openSafetensors, type SafetensorsEntry } from "../nn/index.js";

/** safetensors dtype names, in the reference's `Dtype` enum order (the layout sorts by it, descending). */
const DTYPES: readonly { st: string; dtype: DType; itemsize: number }[] = [
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
const BY_DTYPE = new Map(DTYPES.map((d, rank) => [d.dtype, { ...d, rank }]));
const METADATA_KEY = "__metadata__";

// ---------------------------------------------------------------------------------------------- reading

/** A validated safetensors file, open for reading one tensor's raw bytes at a time (no libtorch). */
export class RawTensorReader implements Disposable {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Every tensor in file (data offset) order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  #fd: number | null;
  readonly #dataStart: number;
  #scratch = new Uint8Array(0);

  private constructor(path: string, fd: number, entries: Map<string, SafetensorsEntry>, metadata: Record<string, string>, dataStart: number) {
    this.path = path;
    this.#fd = fd;
    this.entries = entries;
    this.metadata = metadata;
    this.#dataStart = dataStart;
  }

  /** Opens `path`; openSafetensors validates the header (malformed: PftError("checkpoint")). */
  static open(path: string): RawTensorReader {
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string>;
    let size: number;
    {
      using r = openSafetensors(path);
      for (const k of r.keys()) entries.set(k, r.entry(k));
      metadata = { ...r.metadata };
    }
    const fd = io(path, "cannot open", () => openSync(path, "r"));
    try {
      size = io(path, "cannot stat", () => fstatSync(fd)).size;
      const len = new DataView(readAt(path, fd, 0, new Uint8Array(8)).buffer).getBigUint64(0, true);
      const dataStart = 8 + Number(len);
      const bufferBytes = [...entries.values()].reduce((s, e) => s + e.byteLength, 0);
      if (dataStart + bufferBytes !== size) throw new PftError("checkpoint", `${path}: changed while it was being opened`);
      return new RawTensorReader(path, fd, entries, metadata, dataStart);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (!e) throw new PftError("checkpoint", `${this.path}: no tensor named '${name}'`);
    return e;
  }

  /** A fresh copy of one tensor's bytes, in the file's dtype. */
  read(name: string): Uint8Array {
    const e = this.entry(name);
    return this.#readInto(name, e, new Uint8Array(e.byteLength));
  }

  /** Reads one tensor's bytes into the start of `buf` (at least that long); returns that part of it. */
  readInto(name: string, buf: Uint8Array): Uint8Array {
    const e = this.entry(name);
    if (buf.byteLength < e.byteLength) throw new PftError("argument", `${this.path}: tensor '${name}' needs ${e.byteLength} bytes, the buffer has ${buf.byteLength}`);
    return this.#readInto(name, e, buf.subarray(0, e.byteLength));
  }

  /** Like read(), but into a buffer of this reader that the next view() overwrites. */
  view(name: string): Uint8Array {
    const e = this.entry(name);
    if (this.#scratch.byteLength < e.byteLength) this.#scratch = new Uint8Array(e.byteLength);
    return this.#readInto(name, e, this.#scratch.subarray(0, e.byteLength));
  }

  #readInto(name: string, e: SafetensorsEntry, buf: Uint8Array): Uint8Array {
    if (this.#fd === null) throw new PftError("argument", `${this.path}: reader is closed`);
    try {
      return readAt(this.path, this.#fd, this.#dataStart + e.dataOffsets[0], buf);
    } catch (err) {
      if (isPftError(err) && err.code === "checkpoint") throw new PftError("checkpoint", `${this.path}: tensor '${name}': file ends early (truncated after it was opened?)`);
      throw err;
    }
  }

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

function readAt(path: string, fd: number, position: number, buf: Uint8Array): Uint8Array {
  let done = 0;
  while (done < buf.byteLength) {
    const n = io(path, "cannot read", () => readSync(fd, buf, done, buf.byteLength - done, position + done));
    if (n === 0) throw new PftError("checkpoint", `${path}: file ends early`);
    done += n;
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------- writing

/** What the writer needs of a tensor before its values exist. */
export interface StreamEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

interface Placed extends StreamEntry {
  readonly byteLength: number;
  readonly begin: number;
}

/**
 * Writes a safetensors file whose values arrive one tensor at a time, in `order`. The bytes go
 * to a temporary file in the same directory; commit() fsyncs and renames it over the target.
 * Disposing (or abort()) before commit() removes the temporary file and leaves the target as it was.
 */
export class SafetensorsStreamWriter implements Disposable {
  readonly path: string;
  /** The layout order: write() takes the tensors in exactly this order. */
  readonly order: readonly StreamEntry[];
  readonly #placed: readonly Placed[];
  readonly #tmp: string;
  #fd: number | null;
  #next = 0;
  #committed = false;

  private constructor(path: string, placed: Placed[], tmp: string, fd: number) {
    this.path = path;
    this.#placed = placed;
    this.order = placed;
    this.#tmp = tmp;
    this.#fd = fd;
  }

  /** Lays out `entries` (reference order), opens the temporary file and writes the header. */
  static create(path: string, entries: Iterable<StreamEntry>, metadata?: Readonly<Record<string, string>>): SafetensorsStreamWriter {
    const placed = layout(path, entries);
    const header = encodeHeader(path, placed, metadata);
    const tmp = join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    const fd = io(path, "cannot create a temporary file", () => openSync(tmp, "wx", 0o644));
    const w = new SafetensorsStreamWriter(path, placed, tmp, fd);
    try {
      w.#writeAll(header);
    } catch (e) {
      w.abort();
      throw e;
    }
    return w;
  }

  /** The next tensor's bytes (its name must be the next in `order`). */
  write(name: string, bytes: Uint8Array): void {
    const p = this.#placed[this.#next];
    if (!p) throw new PftError("argument", `${this.path}: tensor '${name}' written after the last one`);
    if (p.name !== name) throw new PftError("argument", `${this.path}: tensor '${name}' written where '${p.name}' comes next`);
    if (bytes.byteLength !== p.byteLength) throw new PftError("engine", `${this.path}: tensor '${name}' gave ${bytes.byteLength} bytes, expected ${p.byteLength}`);
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
    if (this.#next !== this.#placed.length) {
      const missing = this.#placed[this.#next].name;
      this.abort();
      throw new PftError("argument", `${this.path}: committed with ${this.#placed.length - this.#next} tensors unwritten (next: '${missing}')`);
    }
    const fd = this.#fd;
    if (fd === null) throw new PftError("argument", `${this.path}: writer already closed`);
    try {
      io(this.path, "cannot sync", () => fsyncSync(fd));
      this.#fd = null;
      io(this.path, "cannot close", () => closeSync(fd));
      io(this.path, "cannot rename the temporary file onto it", () => renameSync(this.#tmp, this.path));
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
    while (done < bytes.byteLength) done += io(this.path, "cannot write", () => writeSync(fd, bytes, done, bytes.byteLength - done));
  }
}

function layout(path: string, entries: Iterable<StreamEntry>): Placed[] {
  const seen = new Set<string>();
  const list: (StreamEntry & { rank: number; itemsize: number })[] = [];
  for (const e of entries) {
    if (e.name === METADATA_KEY) throw new PftError("argument", `${path}: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (seen.has(e.name)) throw new PftError("argument", `${path}: tensor '${e.name}' given twice`);
    seen.add(e.name);
    const d = BY_DTYPE.get(e.dtype);
    if (!d) throw new PftError("dtype", `${path}: tensor '${e.name}': dtype ${e.dtype} has no safetensors name`);
    list.push({ name: e.name, dtype: e.dtype, shape: [...e.shape], rank: d.rank, itemsize: d.itemsize });
  }
  list.sort((a, b) => b.rank - a.rank || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  let offset = 0;
  return list.map(({ name, dtype, shape, itemsize }) => {
    const byteLength = shape.reduce((a, b) => a * b, 1) * itemsize;
    const p = { name, dtype, shape, byteLength, begin: offset };
    offset += byteLength;
    return p;
  });
}

function encodeHeader(path: string, placed: readonly Placed[], metadata: Readonly<Record<string, string>> | undefined): Uint8Array {
  // By hand, so keys keep the layout order (a JS object would move integer-like names first).
  const fields: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new PftError("argument", `${path}: metadata value for '${k}' is not a string`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  for (const p of placed) {
    const info = { dtype: BY_DTYPE.get(p.dtype)!.st, shape: p.shape, data_offsets: [p.begin, p.begin + p.byteLength] };
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

function io<R>(path: string, what: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (isPftError(e)) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new PftError("io", `${path}: ${what} (${err.code ?? String(err.message).split("\n")[0]})`, { cause: e });
  }
}
