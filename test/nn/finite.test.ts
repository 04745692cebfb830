// Non-finite values are refused where weights are read (src/nn/finite.ts through the safetensors
// reader): every IEEE dtype, every kind (NaN, +Inf, -Inf), the message naming file, tensor and count.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Tensor, scope } from "../../src/engine/index.js";
import { PftError } from "../../src/errors.js";
import { bytesAreFinite, countNonFinite, describeNonFinite, openSafetensors, readSafetensors, writeSafetensors } from "../../src/nn/index.js";
import { tempDir } from "../helpers/reference.js";

const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const f64 = (...v: number[]) => new Uint8Array(Float64Array.from(v).buffer);
/** float16 / bfloat16 bit patterns, little-endian. */
const u16 = (...bits: number[]) => new Uint8Array(Uint16Array.from(bits).buffer);

describe("bytesAreFinite and countNonFinite", () => {
  it("float32: the largest finite value, subnormals and -0 pass; NaN, Inf and -Inf anywhere fail", () => {
    const finite = [0, -0, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 1.17549435e-38];
    assert.equal(bytesAreFinite(f32(...finite), "float32"), true);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 4, finite.length - 1]) {
        const v = [...finite];
        v[at] = bad;
        assert.equal(bytesAreFinite(f32(...v), "float32"), false, `${bad} at ${at}`);
      }
    }
    // A NaN with a payload, and the negative quiet NaN (0xffc00000).
    assert.equal(bytesAreFinite(new Uint8Array(Uint32Array.from([0x7f800001]).buffer), "float32"), false);
    assert.equal(bytesAreFinite(new Uint8Array(Uint32Array.from([0xffc00000]).buffer), "float32"), false);
    assert.equal(bytesAreFinite(new Uint8Array(Uint32Array.from([0x7f7fffff, 0xff7fffff]).buffer), "float32"), true);
  });

  it("float64: Number.MAX_VALUE passes, and a float32-range overflow is still finite", () => {
    assert.equal(bytesAreFinite(f64(Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324, 1e300), "float64"), true);
    for (const bad of [NaN, Infinity, -Infinity]) assert.equal(bytesAreFinite(f64(1, 2, bad), "float64"), false, String(bad));
  });

  it("float16 and bfloat16 by their exponents", () => {
    // float16: 0x7bff is 65504 (the largest finite), 0x7c00 Inf, 0xfc00 -Inf, 0x7e00 NaN.
    assert.equal(bytesAreFinite(u16(0x0000, 0x3c00, 0x7bff, 0xfbff, 0x0001), "float16"), true);
    for (const bad of [0x7c00, 0xfc00, 0x7e00]) assert.equal(bytesAreFinite(u16(0x3c00, bad), "float16"), false, bad.toString(16));
    // bfloat16: 0x7f7f is the largest finite, 0x7f80 Inf, 0xff80 -Inf, 0x7fc0 NaN.
    assert.equal(bytesAreFinite(u16(0x3f80, 0x7f7f, 0xff7f, 0x0001), "bfloat16"), true);
    for (const bad of [0x7f80, 0xff80, 0x7fc0]) assert.equal(bytesAreFinite(u16(0x3f80, bad), "bfloat16"), false, bad.toString(16));
    assert.deepEqual(countNonFinite(u16(0x7c00, 0xfc00, 0x7e00, 0x7e01, 0), "float16"), { nan: 2, posInf: 1, negInf: 1, numel: 5 });
    assert.deepEqual(countNonFinite(u16(0x7f80, 0x7fc0, 0x3f80), "bfloat16"), { nan: 1, posInf: 1, negInf: 0, numel: 3 });
  });

  it("integer dtypes are finite whatever their bits; an unaligned view takes the counting path", () => {
    assert.equal(bytesAreFinite(new Uint8Array([0xff, 0xff, 0xff, 0xff]), "int32"), true);
    const buf = new Uint8Array(13);
    buf.set(f32(1, NaN, 2), 1);
    assert.equal(bytesAreFinite(buf.subarray(1, 13), "float32"), false);
    buf.set(f32(1, 3, 2), 1);
    assert.equal(bytesAreFinite(buf.subarray(1, 13), "float32"), true);
  });

  it("counts and describes every kind", () => {
    const c = countNonFinite(f32(NaN, 1, Infinity, -Infinity, NaN, ...new Array(4795).fill(0)), "float32");
    assert.deepEqual(c, { nan: 2, posInf: 1, negInf: 1, numel: 4800 });
    assert.equal(describeNonFinite(c), "NaN and Inf and -Inf (4 of 4,800 values)");
    assert.equal(describeNonFinite({ nan: 1, posInf: 0, negInf: 0, numel: 4800 }), "NaN (1 of 4,800 values)");
  });
});

describe("the safetensors reader refuses non-finite values", () => {
  const { dir, cleanup } = tempDir("pft-finite-");
  after(cleanup);

  it("get, bytes, view, readInto and readSafetensors name the file and the first bad tensor; allowNonfinite reads them", () => {
    const path = join(dir, "nan.safetensors");
    scope(() => {
      const pos = new Float32Array(4800);
      pos[17] = NaN;
      writeSafetensors(path, new Map([
        ["cls_token", Tensor.from([1, 2, 3])],
        ["pos_embed", Tensor.fromBytes(new Uint8Array(pos.buffer), [1, 300, 16], "float32")],
        ["head.bias", Tensor.fromBytes(f64(Infinity, -Infinity), [2], "float64")],
      ]));
    });
    const message = `${path}: tensor 'pos_embed' holds NaN (1 of 4,800 values)`;
    const refused = (e: unknown) => e instanceof PftError && e.code === "numeric" && e.message === message;
    {
      using r = openSafetensors(path); // the header alone is fine
      assert.equal(r.size, 3);
      scope(() => assert.deepEqual(r.get("cls_token").toArray(), [1, 2, 3]));
      assert.throws(() => r.get("pos_embed"), refused);
      assert.throws(() => r.bytes("pos_embed"), refused);
      assert.throws(() => r.view("pos_embed"), refused);
      assert.throws(() => r.readInto("pos_embed", new Uint8Array(4800 * 4)), refused);
      assert.throws(() => r.get("head.bias"), (e: unknown) => e instanceof PftError && /tensor 'head\.bias' holds Inf and -Inf \(2 of 2 values\)$/.test(e.message));
    }
    assert.throws(() => readSafetensors(path), (e: unknown) => e instanceof PftError && e.code === "numeric" && /tensor '(pos_embed|head\.bias)' holds/.test(e.message));
    scope(() => {
      const { tensors } = readSafetensors(path, { allowNonfinite: true });
      assert.ok(Number.isNaN((tensors.get("pos_embed")!.data() as Float32Array)[17]));
      assert.deepEqual(tensors.get("head.bias")!.toArray(), [Infinity, -Infinity]);
      tensors.forEach((t) => t.dispose());
    });
  });
});
