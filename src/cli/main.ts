#!/usr/bin/env node
// The `pft` command line. Each command parses its flags, calls the library, and prints.
// Any error is one line on stderr and a non-zero exit (2 for usage errors).
import { readFileSync } from "node:fs";
import { PftError } from "../errors.js";
import { describeEngine, engineInfo, blasWarning } from "../engine/index.js";
import { parseArgs, flagsHelp, type FlagSpecs } from "./args.js";

interface Command {
  summary: string;
  usage: string;
  flags: FlagSpecs;
  run(positionals: string[], flags: Record<string, unknown>): Promise<void> | void;
}

const commands: Record<string, Command> = {
  info: {
    summary: "show the engine: libtorch, BLAS, threads, bf16 and CUDA support",
    usage: "pft info [--json]",
    flags: { json: { type: "boolean", help: "print JSON" } },
    run(_p, f) {
      const info = engineInfo();
      if (f.json) console.log(JSON.stringify(info, null, 2));
      else {
        console.log(describeEngine(info));
        const warn = blasWarning(info);
        if (warn) console.log(warn);
      }
    },
  },
  bench: {
    summary: "benchmarks against Python PyTorch on this machine (bench engine)",
    usage: "pft bench engine [--batch 64] [--steps 8] [--warmup 2] [--rounds 2] [--python /usr/bin/python3] [--out results.json]",
    flags: {
      batch: { type: "integer", default: 64, help: "images per step" },
      steps: { type: "integer", default: 8, help: "timed steps per configuration" },
      warmup: { type: "integer", default: 2, help: "untimed steps first" },
      rounds: { type: "integer", default: 2, help: "alternating rounds; the best of each side is kept" },
      python: { type: "string", default: "/usr/bin/python3", help: "Python with torch (the peer)" },
      out: { type: "string", help: "also write the results as JSON here" },
    },
    async run(p, f) {
      if (p[0] !== "engine") throw new PftError("argument", `unknown benchmark '${p[0] ?? ""}' (available: engine)`);
      const { runEngineBench } = await import("../../bench/engine/run.js");
      runEngineBench({
        batch: f.batch as number,
        steps: f.steps as number,
        warmup: f.warmup as number,
        rounds: f.rounds as number,
        python: f.python as string,
        out: f.out as string | undefined,
      });
    },
  },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

function help(): string {
  const lines = ["pft: partial fine-tuning of vision transformers", "", "usage: pft <command> [options]", "", "commands:"];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push("", "pft <command> --help shows a command's options.");
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return 0;
  }
  if (name === "--version") {
    console.log(version());
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) throw new PftError("argument", `unknown command '${name}' (pft --help lists them)`);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(`usage: ${cmd.usage}\n\n${cmd.summary}\n\noptions:\n${flagsHelp(cmd.flags)}`);
    return 0;
  }
  const { positionals, flags } = parseArgs(rest, cmd.flags);
  await cmd.run(positionals, flags);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    console.error(`pft: ${msg}`);
    process.exit(e instanceof PftError && e.code === "argument" ? 2 : 1);
  },
);
