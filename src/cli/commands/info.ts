import { describeEngine, engineInfo, blasWarning } from "../../engine/index.js";
import type { Command } from "../command.js";

export const info: Command = {
  summary: "show the engine: libtorch, BLAS, threads, bf16 and CUDA support",
  usage: "pft info [--json]",
  flags: { json: { type: "boolean", help: "print JSON" } },
  run(_p, f) {
    const e = engineInfo();
    if (f.json) console.log(JSON.stringify(e, null, 2));
    else {
      console.log(describeEngine(e));
      const warn = blasWarning(e);
      if (warn) console.log(warn);
    }
  },
};
