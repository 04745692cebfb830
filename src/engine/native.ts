// Loads the compiled addon (build/Release/pft_native.node, built by node-gyp at `npm install`).
// Everything else in pft talks to libtorch through src/engine/tensor.ts, never through this object.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PftError } from "../errors.js";

/** Opaque handle to a native tensor (an N-API External). */
export type Handle = object & { readonly __brand?: "pft-native-tensor" };

// The addon's functions are loosely typed here; tensor.ts gives them their real types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeModule = Record<string, (...args: any[]) => any>;

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "binding.gyp"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new PftError("engine", "cannot find the pft package root (binding.gyp) above " + start);
    dir = up;
  }
}

function load(): NativeModule {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  const file = resolve(root, "build", "Release", "pft_native.node");
  if (!existsSync(file)) {
    throw new PftError("engine", `native engine not built (${file} missing): run 'bash setup.sh' or 'npm install'`);
  }
  const require = createRequire(import.meta.url);
  try {
    return require(file) as NativeModule;
  } catch (e) {
    throw new PftError("engine", `cannot load the native engine: ${(e as Error).message.split("\n")[0]}`);
  }
}

export const native: NativeModule = load();
