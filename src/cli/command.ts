// The shape of a CLI command: flags declared up front, a run function over parsed values.
import type { FlagSpecs, FlagValues } from "./args.js";

export interface Command {
  summary: string;
  usage: string;
  flags: FlagSpecs;
  run(positionals: string[], flags: FlagValues): Promise<void> | void;
}
