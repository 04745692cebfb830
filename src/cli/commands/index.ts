// Every `pft` command, by name (one file per command or family of commands).
import type { Command } from "../command.js";
import { info } from "./info.js";
import { bench } from "./bench.js";
import { pretrain, finetune, evalCommand, models } from "./train.js";
import { angles, plan, params } from "./partial.js";
import { soup } from "./soup.js";
import { study } from "./study.js";

export const commands: Record<string, Command> = {
  info,
  bench,
  angles,
  plan,
  params,
  models,
  pretrain,
  finetune,
  eval: evalCommand,
  soup,
  study,
};
