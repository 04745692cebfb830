// File helpers shared by the loaders: the package root, reading plain or gzip files, and the
// "missing dataset" error with the one line that says what provides it.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { PftError } from "../errors.js";

let root: string | null = null;

/** The directory holding pft's package.json (found by walking up from this file). */
export function packageRoot(): string {
  if (root !== null) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "pft-vit") return (root = dir);
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new PftError("io", "cannot find pft's package.json above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
export const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();

/** A dataset that is not there: PftError("data") with "<what> not found at <where>: <how to get it>". */
export function notFound(what: string, where: string, provide: string): PftError {
  return new PftError("data", `${what} not found at ${where}: ${provide}`);
}

/** The file's bytes, gunzipped when it starts with the gzip magic. */
export function readMaybeGzip(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new PftError("data", `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new PftError("data", `${file}: corrupt or truncated gzip data (${(e as Error).message})`, { cause: e });
    }
  }
  return raw;
}

/** `file` if it exists, else `file.gz` if that does, else null. */
export function plainOrGz(file: string): string | null {
  if (isFile(file)) return file;
  if (isFile(file + ".gz")) return file + ".gz";
  return null;
}
