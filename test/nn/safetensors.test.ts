// safetensors: bit-exact round trips, interop with PyTorch both ways (header parsed by hand in Python,
// since the `safetensors` package is not installed), header validation, atomic writes, lazy reads,
// the streaming writer (same bytes as writeSafetensors) and raw byte reads.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Tensor, scope, type DType } from "../../src/engine/index.js";
import { PftError } from "../../src/errors.js";
import {
  SafetensorsStreamWriter,
  dtypeItemSize,
  dtypeOfSafetensors,
  openSafetensors,
  readSafetensors,
  safetensorsDTypeOf,
  writeSafetensors,
  type SafetensorsStreamEntry,
} from "../../src/nn/safetensors.js";
import * as nn from "../../src/nn/index.js";
import { runPython, tempDir } from "../helpers/reference.js";

const ALL: { dtype: DType; st: string; itemsize: number }[] = [
  { dtype: "float32", st: "F32", itemsize: 4 },
  { dtype: "float16", st: "F16", itemsize: 2 },
  { dtype: "bfloat16", st: "BF16", itemsize: 2 },
  { dtype: "float64", st: "F64", itemsize: 8 },
  { dtype: "int64", st: "I64", itemsize: 8 },
  { dtype: "int32", st: "I32", itemsize: 4 },
  { dtype: "int16", st: "I16", itemsize: 2 },
  { dtype: "int8", st: "I8", itemsize: 1 },
  { dtype: "uint8", st: "U8", itemsize: 1 },
  { dtype: "bool", st: "BOOL", itemsize: 1 },
];
/** The reference writer's order: dtype rank descending (its Dtype enum order), then name. */
const RANK = ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "F64", "I64"];

let seed = 12345;
function prngBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    b[i] = seed >>> 24;
  }
  return b;
}

/** A tensor of arbitrary bit patterns (NaN payloads included) for bit-exact checks. */
function randomTensor(dtype: DType, shape: number[]): Tensor {
  const item = ALL.find((d) => d.dtype === dtype)!.itemsize;
  const bytes = prngBytes(shape.reduce((a, b) => a * b, 1) * item);
  if (dtype === "bool") for (let i = 0; i < bytes.length; i++) bytes[i] &= 1;
  return Tensor.fromBytes(bytes, shape, dtype);
}

/** A matrix, a 0-d and an empty tensor of every dtype, named "<dtype>.mat" etc. */
function everyDtype(): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  for (const { dtype } of ALL) {
    tensors.set(`${dtype}.mat`, randomTensor(dtype, [3, 5]));
    tensors.set(`${dtype}.scalar`, randomTensor(dtype, []));
    tensors.set(`${dtype}.empty`, randomTensor(dtype, [0]));
  }
  return tensors;
}

function headerOf(path: string): { n: number; json: string; header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> } {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const json = buf.subarray(8, 8 + n).toString("utf8");
  return { n, json, header: JSON.parse(json) };
}

/** A file with the given raw header (object or text) and data buffer. */
function rawFile(path: string, header: unknown, data: Uint8Array | number = 0, headerLen?: bigint): string {
  const h = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(h.byteLength));
  writeFileSync(path, Buffer.concat([len, h, typeof data === "number" ? new Uint8Array(data) : data]));
  return path;
}

const openFds = (): number => readdirSync("/proc/self/fd").length;

function assertCheckpointError(path: string, fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PftError, `expected PftError, got ${e}`);
    assert.equal(e.code, "checkpoint", e.message);
    assert.ok(e.message.startsWith(`${path}: `), `message should name the file: ${e.message}`);
    assert.ok(!e.message.includes("\n"), `message should be one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe("safetensors", () => {
  const { dir, cleanup } = tempDir("pft-safetensors-");
  after(cleanup);

  it("round-trips every dtype bit-exactly, incl. 0-d, empty and non-contiguous tensors, with metadata", () => {
    scope(() => {
      const tensors = everyDtype();
      tensors.set("empty3d", randomTensor("float32", [2, 0, 3]));
      tensors.set("transposed", randomTensor("float32", [3, 4]).transpose(0, 1));
      tensors.set("0", randomTensor("int8", [1])); // integer-like names must keep their place in the header
      tensors.set("blöcks.ü", randomTensor("bfloat16", [2, 2]));
      assert.equal(tensors.get("transposed")!.isContiguous(), false);
      const metadata = { format: "pt", "ключ": "значение ✓", empty: "" };
      const path = join(dir, "all.safetensors");
      writeSafetensors(path, tensors, metadata);

      // Arbitrary bit patterns include NaN and Inf, which a plain read refuses (test/nn/finite.test.ts).
      const back = readSafetensors(path, { allowNonfinite: true });
      assert.deepEqual(back.metadata, metadata);
      assert.deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
      for (const [name, t] of tensors) {
        const r = back.tensors.get(name)!;
        assert.equal(r.dtype, t.dtype, name);
        assert.deepEqual(r.shape, t.shape, name);
        assert.deepEqual(r.bytes(), t.bytes(), `${name}: bytes differ`);
      }
      // 0-d stays 0-d (not [1]); empty stays empty
      assert.deepEqual(back.tensors.get("int64.scalar")!.shape, []);
      assert.deepEqual(back.tensors.get("empty3d")!.shape, [2, 0, 3]);

      // Layout: header padded with spaces to 8 bytes, reference order, every offset dtype-aligned, no gaps.
      const { n, json, header } = headerOf(path);
      assert.equal(n % 8, 0);
      assert.match(json, /\} *$/);
      assert.deepEqual(Object.keys(header).filter((k) => k !== "__metadata__").sort(), [...tensors.keys()].sort());
      const names = json.match(/"((?:[^"\\]|\\.)*)":\{"dtype"/g)!.map((m) => JSON.parse(m.slice(0, m.indexOf(":"))) as string);
      const expectedOrder = [...tensors.keys()].sort(
        (a, b) => RANK.indexOf(header[b].dtype) - RANK.indexOf(header[a].dtype) || Buffer.compare(Buffer.from(a), Buffer.from(b)),
      );
      assert.deepEqual(names, expectedOrder);
      let at = 0;
      for (const name of names) {
        const e = header[name];
        const item = ALL.find((d) => d.st === e.dtype)!.itemsize;
        assert.equal(e.data_offsets[0], at, `${name} starts where the previous tensor ended`);
        assert.equal(e.data_offsets[0] % item, 0, `${name} is aligned to its item size`);
        at = e.data_offsets[1];
      }
      assert.equal(8 + n + at, statSync(path).size);
    });
  });

  it("writes and reads files without tensors or metadata", () => {
    const path = join(dir, "empty.safetensors");
    writeSafetensors(path, []);
    assert.equal(headerOf(path).n, 8); // "{}" padded to 8
    const r = readSafetensors(path);
    assert.equal(r.tensors.size, 0);
    assert.deepEqual(r.metadata, {});
  });

  it("rejects bad arguments to the writer", () => {
    const path = join(dir, "args.safetensors");
    scope(() => {
      const t = Tensor.zeros([2]);
      assert.throws(() => writeSafetensors(path, [["a", t], ["a", t]]), (e: unknown) => e instanceof PftError && e.code === "argument" && /"a" given twice/.test(e.message));
      assert.throws(() => writeSafetensors(path, [["__metadata__", t]]), (e: unknown) => e instanceof PftError && e.code === "argument" && /reserved/.test(e.message));
      assert.throws(() => writeSafetensors(path, [["a", t]], { n: 1 } as unknown as Record<string, string>), (e: unknown) => e instanceof PftError && /metadata value for "n"/.test(e.message));
    });
    assert.equal(existsSync(path), false);
  });

  describe("interop with PyTorch (header parsed and written by hand in Python)", () => {
    const pftPath = join(dir, "from-pft.safetensors");
    const pyPath = join(dir, "from-python.safetensors");
    interface Described {
      dtype: string;
      shape: number[];
      values: (number | boolean | string)[];
    }
    let fromPy: { n: number; metadata: Record<string, string>; tensors: Record<string, Described>; written: Record<string, Described> };
    const pftTensors = new Map<string, Tensor>();

    before(() => {
      pftTensors.set("w.f32", Tensor.from([1.5, -2.25, 3e-8, 1e30, -0, 7], [2, 3]));
      pftTensors.set("w.bf16", Tensor.from([1, -3.140625, 65280, 0.0009765625], [4], { dtype: "bfloat16" }));
      pftTensors.set("w.f16", Tensor.from([0.5, -65504, 6.103515625e-5], [3], { dtype: "float16" }));
      pftTensors.set("w.f64", Tensor.from(new Float64Array([1 / 3, -2.5e300])));
      pftTensors.set("step", Tensor.from(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n, 0n])));
      pftTensors.set("i32", Tensor.from([-(2 ** 31), 2 ** 31 - 1, 5], [3], { dtype: "int32" }));
      pftTensors.set("i16", Tensor.from([-32768, 32767], [2], { dtype: "int16" }));
      pftTensors.set("i8", Tensor.from([-128, 127], [1, 2], { dtype: "int8" }));
      pftTensors.set("u8", Tensor.from([0, 255, 7], [3, 1], { dtype: "uint8" }));
      pftTensors.set("mask", Tensor.from([1, 0, 1], [3], { dtype: "bool" }));
      pftTensors.set("scalar", Tensor.scalar(2.5));
      pftTensors.set("empty", Tensor.zeros([0, 3]));
      for (const t of pftTensors.values()) t.keep();
      writeSafetensors(pftPath, pftTensors, { format: "pt", by: "pft" });

      // One Python run: describe pft's file, then write its own (insertion order, unpadded header,
      // so offsets are not aligned) and describe what it wrote.
      const script = `
import json, struct, sys, torch
DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64,
      "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
ST = {v: k for k, v in DT.items()}
def describe(t):
    v = t.flatten().tolist()
    if t.dtype == torch.int64: v = [str(x) for x in v]
    return {"dtype": ST[t.dtype], "shape": list(t.shape), "values": v}
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
buf = data[8 + n:]
meta = header.pop("__metadata__", {})
read, covered = {}, 0
for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
    b, end = e["data_offsets"]
    dt = DT[e["dtype"]]
    assert b == covered and b % torch.empty(0, dtype=dt).element_size() == 0, name
    covered = end
    t = torch.frombuffer(bytearray(buf[b:end]), dtype=dt) if end > b else torch.empty(0, dtype=dt)
    read[name] = describe(t.reshape(e["shape"]))
assert covered == len(buf)
ts = {
    "w.f32": torch.tensor([[1.5, -2.25, 3e-8], [1e30, -0.0, 7.0]], dtype=torch.float32),
    "mask": torch.tensor([True, False, True]),
    "w.bf16": torch.tensor([1.0, -3.140625, 65280.0, 1e-3], dtype=torch.bfloat16),
    "w.f16": torch.tensor([0.5, -65504.0, 6e-5], dtype=torch.float16),
    "u8": torch.arange(250, 256, dtype=torch.uint8).reshape(2, 3),
    "w.f64": torch.tensor([1 / 3, -2.5e300], dtype=torch.float64),
    "step": torch.tensor([-(2 ** 63), 2 ** 63 - 1, 2 ** 53 + 1, 0], dtype=torch.int64),
    "i32": torch.tensor([-(2 ** 31), 2 ** 31 - 1], dtype=torch.int32),
    "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
    "i8": torch.tensor([[-128], [127]], dtype=torch.int8),
    "scalar": torch.tensor(2.5, dtype=torch.bfloat16),
    "empty": torch.zeros(0, 3),
}
hdr, chunks, off = {"__metadata__": {"format": "pt", "by": "python"}}, [], 0
for name, t in ts.items():
    raw = (t.view(torch.int16) if t.dtype in (torch.bfloat16, torch.float16) else t).numpy().tobytes()
    hdr[name] = {"dtype": ST[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
    chunks.append(raw)
    off += len(raw)
h = json.dumps(hdr).encode()
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
print(json.dumps({"n": n, "metadata": meta, "tensors": read, "written": {k: describe(t) for k, t in ts.items()}}))
`;
      fromPy = JSON.parse(runPython(script, [pftPath, pyPath]));
    });
    after(() => {
      for (const t of pftTensors.values()) t.dispose();
    });

    const describe = (t: Tensor): Described => {
      const d = t.data();
      const values =
        d instanceof BigInt64Array ? Array.from(d, String) : t.dtype === "bool" ? Array.from(d as Uint8Array, Boolean) : Array.from(d as ArrayLike<number>);
      return { dtype: ALL.find((x) => x.dtype === t.dtype)!.st, shape: t.shape, values };
    };

    it("PyTorch reads what pft wrote (values, bf16 and int64 included, and metadata)", () => {
      assert.equal(fromPy.n % 8, 0);
      assert.deepEqual(fromPy.metadata, { format: "pt", by: "pft" });
      assert.deepEqual(Object.keys(fromPy.tensors).sort(), [...pftTensors.keys()].sort());
      for (const [name, t] of pftTensors) assert.deepEqual(fromPy.tensors[name], describe(t), name);
      // spot checks that could only pass with the right bits
      assert.deepEqual(fromPy.tensors["step"].values, ["-9223372036854775808", "9223372036854775807", "9007199254740993", "0"]);
      assert.deepEqual(fromPy.tensors["w.bf16"].values, [1, -3.140625, 65280, 0.0009765625]);
    });

    it("pft reads what PyTorch wrote, with identical values and metadata", () => {
      const { tensors, metadata } = readSafetensors(pyPath);
      try {
        assert.deepEqual(metadata, { format: "pt", by: "python" });
        assert.deepEqual([...tensors.keys()].sort(), Object.keys(fromPy.written).sort());
        for (const [name, t] of tensors) assert.deepEqual(describe(t), fromPy.written[name], name);
        assert.equal(tensors.get("scalar")!.dtype, "bfloat16");
        assert.deepEqual(tensors.get("scalar")!.shape, []);
        assert.equal(tensors.get("step")!.data()[2], 2n ** 53n + 1n);
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
    });
  });

  describe("rejects malformed files with a one-line PftError('checkpoint') naming the problem", () => {
    const f32 = (shape: number[], offsets: [number, number]) => ({ dtype: "F32", shape, data_offsets: offsets });
    const cases: { name: string; make: (p: string) => void; error: RegExp }[] = [
      { name: "file shorter than 8 bytes", make: (p) => writeFileSync(p, Buffer.from([1, 2, 3])), error: /3 bytes, shorter than the 8-byte header length/ },
      { name: "header length past EOF", make: (p) => rawFile(p, "{}", 0, 1000n), error: /header length 1000 runs past the end of the file/ },
      { name: "absurd header length", make: (p) => rawFile(p, "{}", 0, 2n ** 62n), error: /header length \d+ is absurdly large/ },
      { name: "non-JSON header", make: (p) => rawFile(p, '{"a": {"dtype": "F32",'), error: /header is not valid JSON/ },
      { name: "header not UTF-8", make: (p) => rawFile(p, Buffer.from([0x7b, 0xff, 0x7d]).toString("latin1")), error: /header is not valid JSON/ },
      { name: "header not an object", make: (p) => rawFile(p, "[1, 2]"), error: /header is not a JSON object/ },
      { name: "entry not an object", make: (p) => rawFile(p, { a: 5 }), error: /tensor "a": entry is not an object/ },
      { name: "unknown dtype", make: (p) => rawFile(p, { w: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, 2), error: /tensor "w": unknown dtype "F8_E4M3"/ },
      { name: "missing dtype", make: (p) => rawFile(p, { w: { shape: [2], data_offsets: [0, 8] } }, 8), error: /tensor "w": unknown dtype \(missing\)/ },
      { name: "negative shape", make: (p) => rawFile(p, { w: f32([2, -1], [0, 0]) }), error: /tensor "w": shape \[2,-1\] is not an array of non-negative integers/ },
      { name: "fractional shape", make: (p) => rawFile(p, { w: f32([1.5], [0, 4]) }, 4), error: /tensor "w": shape \[1.5\] is not/ },
      { name: "data_offsets reversed", make: (p) => rawFile(p, { w: f32([2], [8, 0]) }, 8), error: /tensor "w": data_offsets \[8,0\] are not two non-negative integers/ },
      { name: "data_offsets not a pair", make: (p) => rawFile(p, { w: f32([2], [0] as unknown as [number, number]) }, 8), error: /tensor "w": data_offsets \[0\]/ },
      { name: "shape/byte-count mismatch", make: (p) => rawFile(p, { w: f32([3], [0, 8]) }, 8), error: /tensor "w": shape\/byte-count mismatch: shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/ },
      { name: "offsets out of range", make: (p) => rawFile(p, { w: f32([4], [0, 16]) }, 8), error: /tensor "w": data_offsets \[0, 16\] run past the end of the 8-byte data buffer; the file is truncated/ },
      {
        name: "overlapping tensors",
        make: (p) => rawFile(p, { a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12),
        error: /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/,
      },
      { name: "hole between tensors", make: (p) => rawFile(p, { a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, 12), error: /hole in the data buffer: bytes \[4, 8\)/ },
      { name: "trailing bytes", make: (p) => rawFile(p, { a: f32([1], [0, 4]) }, 8), error: /hole in the data buffer: bytes \[4, 8\) at its end/ },
      { name: "__metadata__ value not a string", make: (p) => rawFile(p, { __metadata__: { epoch: 3 } }), error: /__metadata__ value for "epoch" is not a string/ },
      { name: "__metadata__ not an object", make: (p) => rawFile(p, { __metadata__: "pt" }), error: /__metadata__ is not an object of strings/ },
      {
        name: "truncated file written by pft",
        make: (p) => {
          scope(() => writeSafetensors(p, new Map([["a", Tensor.ones([4])], ["b", Tensor.ones([8])]])));
          truncateSync(p, statSync(p).size - 3);
        },
        error: /tensor "b": data_offsets \[16, 48\] run past the end of the 45-byte data buffer; the file is truncated/,
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const path = join(dir, `bad-${c.name.replace(/\W+/g, "-")}.safetensors`);
        c.make(path);
        const fds = openFds();
        assertCheckpointError(path, () => openSafetensors(path), c.error);
        assertCheckpointError(path, () => readSafetensors(path), c.error);
        assert.equal(openFds(), fds, "no file descriptor left open");
      });
    }

    it("a missing file is PftError('io')", () => {
      const path = join(dir, "nope.safetensors");
      assert.throws(() => openSafetensors(path), (e: unknown) => e instanceof PftError && e.code === "io" && e.message.includes(path) && /ENOENT/.test(e.message));
    });
  });

  describe("atomic write", () => {
    it("a disposed tensor in the middle of the map: throws, no target file, no temp file", () => {
      const d = tempDir("pft-st-atomic-");
      try {
        const gone = Tensor.ones([3]);
        gone.dispose();
        scope(() => {
          const m = new Map([["a", Tensor.ones([2])], ["b", gone], ["c", Tensor.ones([2])]]);
          const path = join(d.dir, "out.safetensors");
          assert.throws(() => writeSafetensors(path, m), (e: unknown) => e instanceof PftError && e.code === "disposed" && /tensor "b"/.test(e.message));
          assert.deepEqual(readdirSync(d.dir), []);
        });
      } finally {
        d.cleanup();
      }
    });

    it("a failure mid-stream removes the partly written temp file and leaves the existing target untouched", () => {
      const d = tempDir("pft-st-atomic-");
      try {
        const path = join(d.dir, "model.safetensors");
        writeFileSync(path, "previous checkpoint");
        let sawTemp: { name: string; size: number }[] = [];
        // Sorted after "a" (same dtype, later name), so "a"'s bytes are already in the temp file when it fails.
        const failing = {
          dtype: "float32",
          shape: [4],
          numel: () => 4,
          bytes: () => {
            sawTemp = readdirSync(d.dir)
              .filter((n) => n !== "model.safetensors")
              .map((n) => ({ name: n, size: statSync(join(d.dir, n)).size }));
            throw new Error("disk on fire");
          },
        } as unknown as Tensor;
        scope(() => {
          assert.throws(() => writeSafetensors(path, [["b", failing], ["a", Tensor.ones([1024])]]), /disk on fire/);
        });
        assert.equal(sawTemp.length, 1, "the write went through a temp file in the same directory");
        assert.ok(sawTemp[0].size >= 8 + 4096, `temp file held the header and "a" (${sawTemp[0].size} bytes)`);
        assert.deepEqual(readdirSync(d.dir), ["model.safetensors"]);
        assert.equal(readFileSync(path, "utf8"), "previous checkpoint");

        // A successful write replaces it, leaving only the target.
        scope(() => writeSafetensors(path, new Map([["a", Tensor.ones([2])]])));
        assert.deepEqual(readdirSync(d.dir), ["model.safetensors"]);
        scope(() => assert.deepEqual(readSafetensors(path).tensors.get("a")!.toArray(), [1, 1]));
      } finally {
        d.cleanup();
      }
    });

    it("a missing target directory is PftError('io')", () => {
      const path = join(dir, "no-such-dir", "x.safetensors");
      scope(() => {
        assert.throws(() => writeSafetensors(path, [["a", Tensor.ones([1])]]), (e: unknown) => e instanceof PftError && e.code === "io" && e.message.startsWith(path));
      });
    });
  });

  describe("lazy reader", () => {
    it("reads one tensor at its offset, on demand, without touching the others", () => {
      const path = join(dir, "lazy.safetensors");
      scope(() => {
        writeSafetensors(
          path,
          new Map([
            ["a", Tensor.arange(0, 4, 1, { dtype: "float32" })],
            ["b", Tensor.from(new BigInt64Array([7n, -8n, 9n]))],
            ["c", Tensor.from([0.5, 2], [2], { dtype: "bfloat16" })],
          ]),
          { k: "v" },
        );
      });
      const fds = openFds();
      const r = openSafetensors(path);
      try {
        assert.equal(openFds(), fds + 1);
        assert.deepEqual(r.keys(), ["b", "a", "c"]); // file order: I64, then F32, then BF16
        assert.deepEqual(r.metadata, { k: "v" });
        assert.deepEqual(r.entry("b"), { dtype: "int64", shape: [3], byteLength: 24, dataOffsets: [0, 24] });
        assert.deepEqual(r.entry("a"), { dtype: "float32", shape: [4], byteLength: 16, dataOffsets: [24, 40] });
        assert.deepEqual(r.entry("c"), { dtype: "bfloat16", shape: [2], byteLength: 4, dataOffsets: [40, 44] });

        // Corrupt "b" and "c" on disk after opening: "a" still reads right, and "c" reads what is
        // now on disk, so get() reads just its own byte range when called.
        const start = 8 + headerOf(path).n;
        const fd = openSync(path, "r+");
        writeSync(fd, new Uint8Array(24).fill(0xff), 0, 24, start + 0);
        writeSync(fd, new Uint8Array([0x80, 0x3f, 0x00, 0xc0]), 0, 4, start + 40); // bf16 1, -2
        closeSync(fd);
        scope(() => {
          assert.deepEqual(r.get("a").toArray(), [0, 1, 2, 3]);
          assert.deepEqual(r.get("c").toArray(), [1, -2]);
          assert.deepEqual(r.get("b").toArray(), [-1, -1, -1]);
        });
        assert.throws(() => r.get("zzz"), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /no tensor named "zzz"/.test(e.message));

        // A file shortened after opening gives an error, not a short tensor.
        truncateSync(path, start + 42);
        assert.throws(() => r.get("c"), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /tensor "c": file ends 2 bytes early/.test(e.message));
      } finally {
        r.close();
      }
      assert.equal(openFds(), fds);
      r.close(); // twice is fine
      assert.throws(() => r.get("a"), (e: unknown) => e instanceof PftError && /reader is closed/.test(e.message));
    });
  });
});

describe("safetensors dtype names", () => {
  it("maps every dtype to its safetensors name and item size, and back", () => {
    for (const { dtype, st, itemsize } of ALL) {
      assert.equal(safetensorsDTypeOf(dtype), st);
      assert.equal(dtypeOfSafetensors(st), dtype);
      assert.equal(dtypeItemSize(dtype), itemsize);
    }
    assert.equal(dtypeOfSafetensors("F8_E4M3"), undefined);
    assert.equal(dtypeOfSafetensors("f32"), undefined);
    assert.throws(() => dtypeItemSize("complex64" as DType), (e: unknown) => e instanceof PftError && e.code === "dtype" && /complex64/.test(e.message));
    assert.throws(() => safetensorsDTypeOf("complex64" as DType), (e: unknown) => e instanceof PftError && e.code === "dtype");
    // and through the nn layer's public surface
    assert.equal(nn.dtypeItemSize, dtypeItemSize);
    assert.equal(nn.SafetensorsStreamWriter, SafetensorsStreamWriter);
  });
});

/** Runs `fn` in a fresh, empty temp directory, removed afterwards. */
function inTempDir(fn: (dir: string) => void): void {
  const d = tempDir("pft-st-");
  try {
    fn(d.dir);
  } finally {
    d.cleanup();
  }
}

/** Every tensor of the file, as plain numbers. */
const arraysOf = (path: string): Record<string, number[]> => scope(() => Object.fromEntries([...readSafetensors(path).tensors].map(([k, t]) => [k, t.toArray()])));

describe("safetensors streaming writer", () => {
  const { dir, cleanup } = tempDir("pft-st-stream-");
  after(cleanup);

  const entriesOf = (tensors: ReadonlyMap<string, Tensor>): SafetensorsStreamEntry[] => [...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const isPft = (code: string, re: RegExp) => (e: unknown) => e instanceof PftError && e.code === code && re.test(e.message);

  it("writes the same bytes as writeSafetensors for the same tensors: layout, header, metadata", () => {
    scope(() => {
      const tensors = everyDtype();
      tensors.set("10", randomTensor("int8", [1]));
      tensors.set("2", randomTensor("int8", [3]));
      tensors.set("blöcks.ü", randomTensor("bfloat16", [2, 2]));
      tensors.set("transposed", randomTensor("float32", [3, 4]).transpose(0, 1));
      const metadatas: (Record<string, string> | undefined)[] = [undefined, {}, { format: "pt", "ключ": "значение ✓", empty: "" }];
      for (const [i, metadata] of metadatas.entries()) {
        const ref = join(dir, `ref${i}.safetensors`);
        const out = join(dir, `stream${i}.safetensors`);
        writeSafetensors(ref, tensors, metadata);
        const w = SafetensorsStreamWriter.create(out, entriesOf(tensors), metadata);
        assert.equal(existsSync(out), false, "nothing at the target before commit");
        for (const e of w.order) w.write(e.name, tensors.get(e.name)!.bytes());
        w.commit();
        assert.ok(readFileSync(out).equals(readFileSync(ref)), `same bytes (metadata ${JSON.stringify(metadata)})`);

        // `order` is the file's layout: names in file order, with the header's offsets.
        using r = openSafetensors(out);
        assert.deepEqual(
          w.order.map((e) => e.name),
          r.keys(),
        );
        for (const e of w.order) {
          const { name, ...entry } = e;
          assert.deepEqual(entry, r.entry(name), name);
        }
      }
    });
    assert.deepEqual(readdirSync(dir).sort(), [0, 1, 2].flatMap((i) => [`ref${i}.safetensors`, `stream${i}.safetensors`]).sort(), "no temp files left");
  });

  it("abort() or disposing before commit leaves nothing behind and the existing target untouched", () =>
    inTempDir((dir) => {
      const path = join(dir, "x.safetensors");
      const entries: SafetensorsStreamEntry[] = [
        { name: "a", dtype: "float32", shape: [2] },
        { name: "b", dtype: "float32", shape: [1] },
      ];
      const w = SafetensorsStreamWriter.create(path, entries);
      w.write("a", new Uint8Array(8));
      assert.equal(readdirSync(dir).length, 1, "the bytes go to a temp file in the same directory");
      w.abort();
      assert.deepEqual(readdirSync(dir), []);
      w.abort(); // twice is fine
      assert.throws(() => w.write("b", new Uint8Array(4)), isPft("argument", /writer already closed/));

      writeFileSync(path, "previous checkpoint");
      {
        using u = SafetensorsStreamWriter.create(path, entries, { k: "v" });
        u.write("a", new Uint8Array(8));
      }
      assert.deepEqual(readdirSync(dir), ["x.safetensors"]);
      assert.equal(readFileSync(path, "utf8"), "previous checkpoint");

      // Committing with tensors unwritten is refused and drops the temp file too.
      const v = SafetensorsStreamWriter.create(path, entries);
      v.write("a", new Uint8Array(8));
      assert.throws(() => v.commit(), isPft("argument", /1 tensors unwritten \(next: 'b'\)/));
      assert.deepEqual(readdirSync(dir), ["x.safetensors"]);
      assert.equal(readFileSync(path, "utf8"), "previous checkpoint");

      // A committed file stays: abort() and dispose after commit() do nothing.
      {
        using c = SafetensorsStreamWriter.create(path, entries);
        c.write("a", new Uint8Array(new Float32Array([1, 2]).buffer));
        c.write("b", new Uint8Array(new Float32Array([3]).buffer));
        c.commit();
        c.abort();
      }
      assert.deepEqual(readdirSync(dir), ["x.safetensors"]);
      assert.deepEqual(arraysOf(path), { a: [1, 2], b: [3] });
    }));

  it("writing out of order, past the last tensor or with the wrong byte count is a PftError naming the tensors", () =>
    inTempDir((dir) => {
      const path = join(dir, "x.safetensors");
      // Layout order: F64 "z" first (wider dtype), then F32 "a", "b".
      using w = SafetensorsStreamWriter.create(path, [
        { name: "b", dtype: "float32", shape: [1] },
        { name: "a", dtype: "float32", shape: [2] },
        { name: "z", dtype: "float64", shape: [1] },
      ]);
      assert.deepEqual(
        w.order.map((e) => e.name),
        ["z", "a", "b"],
      );
      assert.throws(() => w.write("a", new Uint8Array(8)), isPft("argument", new RegExp(`^${path}: tensor 'a' written where 'z' comes next$`)));
      assert.throws(() => w.write("nope", new Uint8Array(8)), isPft("argument", /'nope' written where 'z' comes next/));
      assert.throws(() => w.write("z", new Uint8Array(4)), isPft("engine", /tensor "z" gave 4 bytes, expected 8/));
      assert.throws(() => w.write("z", new Uint8Array(9)), isPft("engine", /tensor "z" gave 9 bytes, expected 8/));
      // A refused write writes nothing: the writer goes on from where it was.
      w.write("z", new Uint8Array(new Float64Array([0.5]).buffer));
      w.write("a", new Uint8Array(new Float32Array([1, 2]).buffer));
      w.write("b", new Uint8Array(new Float32Array([3]).buffer));
      assert.throws(() => w.write("b", new Uint8Array(4)), isPft("argument", /tensor 'b' written after the last one/));
      w.commit();
      assert.deepEqual(readdirSync(dir), ["x.safetensors"]);
      assert.deepEqual(arraysOf(path), { z: [0.5], a: [1, 2], b: [3] });
      assert.throws(() => w.commit(), isPft("argument", /writer already closed/));
    }));

  it("rejects bad entries and metadata before creating any file", () =>
    inTempDir((dir) => {
      const path = join(dir, "x.safetensors");
      const f = (name: string, shape: number[] = [1]): SafetensorsStreamEntry => ({ name, dtype: "float32", shape });
      assert.throws(() => SafetensorsStreamWriter.create(path, [f("a"), f("a")]), isPft("argument", /tensor "a" given twice/));
      assert.throws(() => SafetensorsStreamWriter.create(path, [f("__metadata__")]), isPft("argument", /reserved/));
      assert.throws(() => SafetensorsStreamWriter.create(path, [f("a", [-1])]), isPft("argument", /tensor "a": shape \[-1\] is not an array of non-negative integers/));
      assert.throws(() => SafetensorsStreamWriter.create(path, [f("a", [1.5])]), isPft("argument", /shape \[1.5\]/));
      assert.throws(() => SafetensorsStreamWriter.create(path, [{ name: "c", dtype: "complex64" as DType, shape: [1] }]), isPft("dtype", /tensor "c": dtype complex64 has no safetensors name/));
      assert.throws(() => SafetensorsStreamWriter.create(path, [f("a")], { n: 1 } as unknown as Record<string, string>), isPft("argument", /metadata value for "n"/));
      assert.deepEqual(readdirSync(dir), []);
      assert.throws(() => SafetensorsStreamWriter.create(join(dir, "no-such-dir", "x.safetensors"), [f("a")]), isPft("io", /cannot create a temporary file/));
    }));
});

describe("safetensors raw reads", () => {
  const { dir, cleanup } = tempDir("pft-st-raw-");
  after(cleanup);

  it("readInto, bytes and view read one tensor's byte range with the reader's own file handle", () => {
    const path = join(dir, "raw.safetensors");
    const want = new Map<string, Uint8Array>();
    scope(() => {
      const tensors = new Map([
        ["a", randomTensor("float32", [4])],
        ["b", randomTensor("int64", [3])],
        ["c", randomTensor("bfloat16", [2])],
        ["e", randomTensor("float64", [0])],
      ]);
      for (const [k, t] of tensors) want.set(k, t.bytes());
      writeSafetensors(path, tensors, { k: "v" });
    });
    const fds = openFds();
    const r = openSafetensors(path, { allowNonfinite: true }); // random bits: NaN payloads included
    try {
      assert.equal(openFds(), fds + 1, "no file handle beyond the reader's");
      assert.equal(r.dataStart, 8 + headerOf(path).n);
      assert.deepEqual([...r.entries.keys()], r.keys());
      assert.deepEqual(r.entries.get("a"), r.entry("a"));

      // Into the start of a larger buffer: the returned part is a view of it, the rest untouched.
      const target = new Uint8Array(64).fill(0xee);
      for (const name of ["a", "b", "c", "e"]) {
        target.fill(0xee);
        const got = r.readInto(name, target);
        assert.equal(got.buffer, target.buffer);
        assert.equal(got.byteOffset, 0);
        assert.deepEqual(got, want.get(name), name);
        assert.ok(target.subarray(got.byteLength).every((x) => x === 0xee), `${name}: nothing written past its bytes`);
        assert.deepEqual(r.bytes(name), want.get(name), name);
        scope(() => assert.deepEqual(r.get(name).bytes(), want.get(name), name));
      }
      // A buffer of exactly the size, and one at an offset into a larger ArrayBuffer.
      assert.deepEqual(r.readInto("a", new Uint8Array(16)), want.get("a"));
      const offset = new Uint8Array(new ArrayBuffer(40), 8, 32);
      assert.deepEqual(r.readInto("b", offset), want.get("b"));
      assert.deepEqual(new Uint8Array(offset.buffer, 8, 24), want.get("b"));

      // bytes() is a fresh copy; view() reuses one buffer of the reader.
      assert.notEqual(r.bytes("a").buffer, r.bytes("a").buffer);
      const v1 = r.view("b");
      assert.deepEqual(v1, want.get("b"));
      const v2 = r.view("a");
      assert.equal(v2.buffer, v1.buffer, "view() reuses its buffer");
      assert.deepEqual(v2, want.get("a"));

      assert.throws(() => r.readInto("a", new Uint8Array(15)), (e: unknown) => e instanceof PftError && e.code === "argument" && /tensor "a" needs 16 bytes, the buffer holds 15/.test(e.message));
      assert.throws(() => r.readInto("zzz", target), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /no tensor named "zzz"/.test(e.message));

      // A file shortened after opening gives an error, not short bytes.
      truncateSync(path, r.dataStart + r.entry("c").dataOffsets[1] - 1);
      assert.throws(() => r.readInto("c", target), (e: unknown) => e instanceof PftError && e.code === "checkpoint" && /tensor "c": file ends 1 bytes early/.test(e.message));
    } finally {
      r.close();
    }
    assert.equal(openFds(), fds);
    assert.throws(() => r.readInto("a", new Uint8Array(16)), (e: unknown) => e instanceof PftError && /reader is closed/.test(e.message));
  });
});
