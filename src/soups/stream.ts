// The soups' names for byte-level safetensors access, which lives in src/nn/safetensors.ts.
// RawTensorReader is SafetensorsReader: entries, and one tensor's raw bytes at a time with
// readInto(name, buf) or view(name) (a reused buffer), no libtorch tensor. SafetensorsStreamWriter
// writes a soup as it is computed, with the same bytes as writeSafetensors:
//
//   using w = SafetensorsStreamWriter.create(out, entries, metadata); // header written
//   for (const e of w.order) w.write(e.name, bytesOf(e.name));       // in w.order, one at a time
//   w.commit();                                                       // fsync + rename: atomic
export { SafetensorsReader as RawTensorReader, SafetensorsStreamWriter, type SafetensorsStreamEntry as StreamEntry } from "../nn/index.js";
