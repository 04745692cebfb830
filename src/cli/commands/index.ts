// Every `pft` command, by name (one file per command or family of commands).
import type { Command } from "../command.js";
import { info } from "./info.js";
import { bench } from "./bench.js";

export const commands: Record<string, Command> = {
  info,
  bench,
};
