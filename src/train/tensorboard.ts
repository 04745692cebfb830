// TensorBoard event files without TensorFlow: TFRecord framing around the minimal protobuf
// encoding of tensorflow.Event / Summary (tensorflow/core/util/event.proto, summary.proto):
//   record  = uint64 length (LE), uint32 masked CRC32C of those 8 bytes, payload, uint32 masked CRC32C of payload
//   Event   = 1: wall_time (double), 2: step (int64), 3: file_version (string), 5: summary (Summary)
//   Summary = 1: value (repeated Value);  Value = 1: tag (string), 2: simple_value (float)
import { maskedCrc32c } from "./crc32c.js";

export interface Scalar {
  tag: string;
  value: number;
}

export interface ScalarEvent {
  wallTime: number;
  step: number;
  scalars: Scalar[];
}

/** The file_version event TensorBoard expects first. */
export const FILE_VERSION = "brain.Event:2";

class ProtoWriter {
  readonly #parts: Uint8Array[] = [];
  #varint(v: bigint): void {
    const out: number[] = [];
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.#parts.push(Uint8Array.from(out));
  }
  #key(field: number, wire: number): void {
    this.#varint(BigInt((field << 3) | wire));
  }
  double(field: number, v: number): this {
    this.#key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.#parts.push(b);
    return this;
  }
  float(field: number, v: number): this {
    this.#key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.#parts.push(b);
    return this;
  }
  int64(field: number, v: number): this {
    this.#key(field, 0);
    this.#varint(BigInt(v));
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.#key(field, 2);
    this.#varint(BigInt(b.length));
    this.#parts.push(b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  finish(): Uint8Array {
    return Buffer.concat(this.#parts);
  }
}

export function encodeScalarEvent(e: ScalarEvent): Uint8Array {
  const summary = new ProtoWriter();
  for (const s of e.scalars) summary.bytes(1, new ProtoWriter().string(1, s.tag).float(2, s.value).finish());
  return new ProtoWriter().double(1, e.wallTime).int64(2, e.step).bytes(5, summary.finish()).finish();
}

export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new ProtoWriter().double(1, wallTime).string(3, FILE_VERSION).finish();
}

/** One TFRecord around a payload. */
export function tfRecord(payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  view.setBigUint64(0, BigInt(payload.length), true);
  view.setUint32(8, maskedCrc32c(header.subarray(0, 8)), true);
  const footer = new Uint8Array(4);
  new DataView(footer.buffer).setUint32(0, maskedCrc32c(payload), true);
  return Buffer.concat([header, payload, footer]);
}

/** A whole event file: the version event, then one event per step. */
export function eventFile(startWallTime: number, events: readonly ScalarEvent[]): Uint8Array {
  return Buffer.concat([tfRecord(encodeFileVersionEvent(startWallTime)), ...events.map((e) => tfRecord(encodeScalarEvent(e)))]);
}
