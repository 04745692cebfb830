// summary.csv and TensorBoard event files, read back by a reader written here from the formats'
// specifications (TFRecord framing, protobuf wire format, event.proto / summary.proto), with its
// own bitwise CRC32C, checked first against published test vectors (RFC 3720, B.4; the "check"
// value of CRC-32C). Debian ships no TensorFlow or TensorBoard to read them with.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32c, maskedCrc32c } from "../../src/train/crc32c.js";
import { tempDir } from "../helpers/reference.js";

// ---- the independent reader
function crcBitwise(b: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const byte of b) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}
const mask = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

type Field = { field: number; wire: number; value: bigint | number | Uint8Array };
function decodeProto(b: Uint8Array): Field[] {
  const out: Field[] = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let i = 0;
  const varint = () => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = b[i++];
      v |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
  };
  while (i < b.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 1) {
      out.push({ field, wire, value: view.getFloat64(i, true) });
      i += 8;
    } else if (wire === 5) {
      out.push({ field, wire, value: view.getFloat32(i, true) });
      i += 4;
    } else if (wire === 2) {
      const n = Number(varint());
      out.push({ field, wire, value: b.subarray(i, i + n) });
      i += n;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

interface Event {
  wallTime: number;
  step: number;
  fileVersion?: string;
  values: Map<string, number>;
}
function readEvents(file: Uint8Array): Event[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const events: Event[] = [];
  for (let i = 0; i < file.length; ) {
    const len = Number(view.getBigUint64(i, true));
    assert.equal(view.getUint32(i + 8, true), mask(crcBitwise(file.subarray(i, i + 8))), "length CRC");
    const payload = file.subarray(i + 12, i + 12 + len);
    assert.equal(view.getUint32(i + 12 + len, true), mask(crcBitwise(payload)), "payload CRC");
    i += 16 + len;
    const e: Event = { wallTime: NaN, step: 0, values: new Map() };
    for (const f of decodeProto(payload)) {
      if (f.field === 1) e.wallTime = f.value as number;
      else if (f.field === 2) e.step = Number(f.value);
      else if (f.field === 3) e.fileVersion = new TextDecoder().decode(f.value as Uint8Array);
      else if (f.field === 5) {
        for (const v of decodeProto(f.value as Uint8Array).filter((x) => x.field === 1)) {
          const parts = decodeProto(v.value as Uint8Array);
          const tag = new TextDecoder().decode(parts.find((p) => p.field === 1)!.value as Uint8Array);
          e.values.set(tag, parts.find((p) => p.field === 2 && p.wire === 5)!.value as number);
        }
      }
    }
    events.push(e);
  }
  return events;
}

test("CRC32C: RFC 3720's test vectors and the standard check value, with the reader's own CRC agreeing", () => {
  const vectors: [Uint8Array, number][] = [
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
    [Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    [Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    [new TextEncoder().encode("123456789"), 0xe3069283],
  ];
  for (const [bytes, want] of vectors) {
    assert.equal(crc32c(bytes), want);
    assert.equal(crcBitwise(bytes), want);
    assert.equal(maskedCrc32c(bytes), mask(want));
  }
});

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

test("a run writes summary.csv (timm's columns) and a TensorBoard event file matching metrics.jsonl", () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, "run");
    const r = spawnSync(process.execPath, [CLI, "pretrain", "--model", "vit_micro_patch4_28", "--data", "digits", "--train-per-class", "8", "--val", "20", "--batch-size", "16", "--epochs", "3", "--warmup-epochs", "0", "--out", out, "--quiet"], { encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { epoch: number; step: number; trainLoss: number; valLoss: number; valAcc: number; lr: number; imagesPerSecond: number });
    assert.equal(metrics.length, 3);

    const [header, ...rows] = readFileSync(join(out, "summary.csv"), "utf8").trim().split("\n");
    assert.equal(header, "epoch,train_loss,eval_loss,eval_top1,lr");
    assert.equal(rows.length, 3);
    rows.forEach((row, i) => {
      const [epoch, trainLoss, evalLoss, top1, lr] = row.split(",").map(Number);
      const m = metrics[i];
      assert.deepEqual([epoch, trainLoss, evalLoss, lr], [m.epoch, m.trainLoss, m.valLoss, m.lr]);
      assert.ok(Math.abs(top1 - m.valAcc * 100) < 1e-9, "eval_top1 in percent, as timm");
    });

    const files = readdirSync(out).filter((f) => f.startsWith("events.out.tfevents."));
    assert.equal(files.length, 1, files.join(" "));
    const events = readEvents(readFileSync(join(out, files[0])));
    assert.equal(events[0].fileVersion, "brain.Event:2");
    assert.equal(events.length, 1 + metrics.length);
    const f32 = (x: number) => Math.fround(x);
    events.slice(1).forEach((e, i) => {
      const m = metrics[i];
      assert.equal(e.step, m.step);
      assert.ok(e.wallTime >= events[0].wallTime && (i === 0 || e.wallTime >= events[i].wallTime), "wall time grows");
      assert.equal(e.values.get("train/loss"), f32(m.trainLoss));
      assert.equal(e.values.get("eval/loss"), f32(m.valLoss));
      assert.equal(e.values.get("eval/top1"), f32(m.valAcc));
      assert.equal(e.values.get("train/lr"), f32(m.lr));
      assert.equal(e.values.get("train/images_per_sec"), f32(m.imagesPerSecond));
    });
  } finally {
    cleanup();
  }
});
