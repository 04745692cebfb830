// A small, strict argument parser: declared flags only, typed values, unknown flags rejected
// (nanoGPT's configurator idea without exec: wrong keys and types are errors, not surprises).
import { PftError } from "../errors.js";

export type FlagType = "string" | "number" | "integer" | "boolean";
export interface FlagSpec {
  type: FlagType;
  default?: string | number | boolean;
  help: string;
}
export type FlagSpecs = Record<string, FlagSpec>;
export type FlagValues = Record<string, string | number | boolean | undefined>;

export interface Parsed {
  positionals: string[];
  flags: FlagValues;
}

export function parseArgs(argv: string[], specs: FlagSpecs): Parsed {
  const flags: FlagValues = {};
  for (const [k, s] of Object.entries(specs)) flags[k] = s.default;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const spec = specs[name];
    if (!spec) throw new PftError("argument", `unknown option --${name}`);
    if (spec.type === "boolean") {
      flags[name] = eq > 0 ? a.slice(eq + 1) !== "false" : true;
      continue;
    }
    const raw = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined) throw new PftError("argument", `option --${name} needs a value`);
    if (spec.type === "string") flags[name] = raw;
    else {
      const v = raw.trim() === "" ? NaN : Number(raw); // Number("") is 0
      if (!Number.isFinite(v) || (spec.type === "integer" && !Number.isInteger(v))) {
        throw new PftError("argument", `option --${name} needs ${spec.type === "integer" ? "an integer" : "a number"}, got '${raw}'`);
      }
      flags[name] = v;
    }
  }
  return { positionals, flags };
}

export function flagsHelp(specs: FlagSpecs): string {
  const names = Object.entries(specs).map(([k, s]) => `  --${k}${s.type === "boolean" ? "" : ` <${s.type}>`}`);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return Object.values(specs)
    .map((s, i) => names[i].padEnd(width) + s.help + (s.default !== undefined ? ` (default ${s.default})` : ""))
    .join("\n");
}
