#!/usr/bin/env node
// The `pft` command line. Each command parses its flags, calls the library, and prints.
// Any error is one line on stderr and a non-zero exit (2 for usage errors).
import { readFileSync } from "node:fs";
import { PftError } from "../errors.js";
import { parseArgs, flagsHelp } from "./args.js";
import { CONFIG_FLAG, parseWithConfig } from "./config-file.js";
import { commands } from "./commands/index.js";

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
  const { positionals, flags } = CONFIG_FLAG in cmd.flags ? parseWithConfig(rest, cmd.flags) : parseArgs(rest, cmd.flags);
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
