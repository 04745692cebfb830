// Training config files (timm's --config, as YAML or JSON): `pft pretrain|finetune --config FILE`.
// The file's keys are the command's option names (`batch-size`, or timm's `batch_size`); the
// resolved options are defaults, then the file, then the command line. Unknown keys and wrong
// types are refused with the key's path. `args.yaml` (timm's name) records the resolved options
// of a run and is itself a config file that reproduces it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { PftError } from "../errors.js";
import { writeFileAtomic } from "../train/checkpoint.js";
import { parseArgs, type FlagSpec, type FlagSpecs, type FlagValues, type Parsed } from "./args.js";

/** The option that names the config file. */
export const CONFIG_FLAG = "config";
/** Options that steer this invocation only, not the run: never read from nor written to a config. */
const INVOCATION_ONLY = new Set([CONFIG_FLAG, "quiet", "no-resume"]);

/** A config file's options, checked against the command's flags. */
export function readConfigFile(file: string, specs: FlagSpecs): FlagValues {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new PftError("io", `config file not found: ${file}`);
  }
  let doc: unknown;
  try {
    doc = parse(text); // YAML 1.2 reads JSON too
  } catch (e) {
    throw new PftError("config", `${file}: not valid YAML or JSON (${(e as Error).message.split("\n")[0]})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new PftError("config", `${file}: expected a mapping of option names to values`);
  const out: FlagValues = {};
  for (const [rawKey, value] of Object.entries(doc as Record<string, unknown>)) {
    const key = rawKey.replaceAll("_", "-");
    const spec = specs[key];
    if (!spec || INVOCATION_ONLY.has(key)) throw new PftError("config", `${file}: unknown key '${rawKey}'${spec ? " (a command-line option only)" : ""}`);
    if (value === null) continue; // null: keep the default (args.yaml never writes one)
    out[key] = checkValue(file, rawKey, value, spec);
  }
  return out;
}

function checkValue(file: string, path: string, v: unknown, spec: FlagSpec): string | number | boolean {
  const bad = (want: string) => new PftError("config", `${file}: '${path}' must be ${want}, got ${JSON.stringify(v)}`);
  switch (spec.type) {
    case "string":
      if (typeof v !== "string") throw bad("a string");
      return v;
    case "integer":
      if (typeof v !== "number" || !Number.isInteger(v)) throw bad("an integer");
      return v;
    case "number":
      if (typeof v !== "number" || !Number.isFinite(v)) throw bad("a number");
      return v;
    case "boolean":
      if (typeof v !== "boolean") throw bad("true or false");
      return v;
  }
}

/** argv parsed against specs, with `--config FILE` (when given) between the defaults and the command line. */
export function parseWithConfig(argv: string[], specs: FlagSpecs): Parsed {
  const noDefaults: FlagSpecs = Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, { ...s, default: undefined }]));
  const given = parseArgs(argv, noDefaults);
  const file = given.flags[CONFIG_FLAG];
  const fromFile = typeof file === "string" ? readConfigFile(file, specs) : {};
  const flags: FlagValues = {};
  for (const [k, s] of Object.entries(specs)) flags[k] = given.flags[k] ?? fromFile[k] ?? s.default;
  return { positionals: given.positionals, flags };
}

/** The resolved options of a run as YAML: every option with a value, in the command's order. */
export function argsYaml(flags: FlagValues, specs: FlagSpecs): string {
  const doc: Record<string, unknown> = {};
  for (const k of Object.keys(specs)) if (flags[k] !== undefined && !INVOCATION_ONLY.has(k)) doc[k] = flags[k];
  return stringify(doc);
}

/** Writes OUT/args.yaml atomically. */
export function writeArgsYaml(dir: string, flags: FlagValues, specs: FlagSpecs): void {
  writeFileAtomic(join(dir, "args.yaml"), argsYaml(flags, specs));
}
