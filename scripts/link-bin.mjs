// Makes `npx pft` run this checkout's own CLI, from the repository root and from any folder
// below it, and never a registry package of the same name.
//
// npm runs `npx pft` at the root through its "self-execution" path: it links this package into
// its npx cache (~/.npm/_npx/<hash of this path>) and runs the bin from there. An entry made
// before dist/ was built has no bin link, and npm never repairs it ("pft: not found"); one left
// half-made by an interrupted run has no package.json ("Could not read package.json"). So a
// stale entry for this checkout is removed here, once dist/ exists.
//
// From a folder below the root npm looks for node_modules/.bin/pft walking up, and failing that
// would install `pft` from the registry, an unrelated package: so node_modules/.bin/pft is
// linked to our own bin. (A devDependency on "file:." would make the same link, but npm then
// runs the install script, the native build, twice.)
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const bins = typeof pkg.bin === "string" ? { [pkg.name]: pkg.bin } : pkg.bin;

const binDir = join(root, "node_modules", ".bin");
mkdirSync(binDir, { recursive: true });
for (const [name, target] of Object.entries(bins)) {
  if (!existsSync(join(root, target))) throw new Error(`link-bin: ${target} is not built (npm run build first)`);
  chmodSync(join(root, target), 0o755); // tsc writes a new file without the execute bit the shell needs
  const link = join(binDir, name);
  if (existsSync(link) || isLink(link)) unlinkSync(link);
  symlinkSync(join("..", "..", target), link);
}

// The npx cache entry npm uses for this directory: sha512 of its absolute path, 16 hex digits.
let cache = "";
try {
  cache = execFileSync("npm", ["config", "get", "cache"], { encoding: "utf8" }).trim();
} catch {
  /* no npm on PATH: nothing to repair */
}
if (cache) {
  const entry = join(cache, "_npx", createHash("sha512").update(root).digest("hex").slice(0, 16));
  const healthy = existsSync(join(entry, "package.json")) && Object.keys(bins).every((b) => existsSync(join(entry, "node_modules", ".bin", b)));
  if (existsSync(entry) && !healthy) rmSync(entry, { recursive: true, force: true });
}
console.log(`link-bin: ${Object.keys(bins).map((b) => `node_modules/.bin/${b}`).join(", ")} -> this checkout`);

function isLink(p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
