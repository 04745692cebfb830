// The lint step's layering rules (eslint.config.js, docs/architecture.md) bite: through the ESLint
// Node API with the project's own config, a probe file in each folder of src/ imports every other
// folder, and exactly the imports its layer forbids are errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ESLint } from "eslint";

const root = resolve(new URL("../../..", import.meta.url).pathname);
const RULE = "@typescript-eslint/no-restricted-imports";
const { LAYERS } = (await import(pathToFileURL(resolve(root, "eslint.config.js")).href)) as { LAYERS: Record<string, string[]> };
const FOLDERS = [...Object.keys(LAYERS), "cli"];
const eslint = new ESLint({ cwd: root });

/** Lints `code` as if it were the file at `path` (relative to the root); the lines that break the layering. */
async function layeringErrors(path: string, code: string): Promise<number[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, path) });
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.line);
}

test("src/report importing the engine fails the lint; importing a study type does not", async () => {
  const probe = "src/report/probe.ts";
  assert.deepEqual(await layeringErrors(probe, `import { Tensor } from "../engine/index.js";\nexport const t = Tensor;\n`), [1]);
  assert.deepEqual(await layeringErrors(probe, `import type { PftError } from "../errors.js";\nexport type E = PftError;\n`), []);
  assert.deepEqual(await layeringErrors(probe, `import { PftError } from "../errors.js";\nexport const E = PftError;\n`), [1]);
  assert.deepEqual(await layeringErrors(probe, `import { x } from "./own.js";\nexport const y = x;\n`), []);
});

test("each folder may import exactly the folders its layer lists (and nothing imports cli)", async () => {
  for (const [folder, allowed] of Object.entries(LAYERS)) {
    const others = FOLDERS.filter((f) => f !== folder);
    const code = others.map((f, i) => `import * as m${i} from "../${f}/index.js";`).join("\n") + `\nexport const all = [${others.map((_, i) => `m${i}`).join(", ")}];\n`;
    const flagged = (await layeringErrors(`src/${folder}/probe.ts`, code)).map((line) => others[line - 1]);
    const forbidden = others.filter((f) => !allowed.includes(f));
    assert.deepEqual(flagged.sort(), forbidden.sort(), `src/${folder}`);
    assert.ok(forbidden.includes("cli"), `src/${folder} may not import cli`);
  }
});

test("the library imports no bench, test or cli code from any depth", async () => {
  assert.deepEqual(await layeringErrors("src/nn/probe.ts", `import { x } from "../../bench/common.js";\nexport const y = x;\n`), [1]);
  assert.deepEqual(await layeringErrors("src/engine/probe.ts", `import { x } from "../../test/helpers/reference.js";\nexport const y = x;\n`), [1]);
  assert.deepEqual(await layeringErrors("src/index.ts", `import { x } from "./cli/main.js";\nexport const y = x;\n`), [1]);
  assert.deepEqual(await layeringErrors("src/errors.ts", `import { x } from "./engine/index.js";\nexport const y = x;\n`), [1]);
});

test("the code base itself passes the layering rules", async () => {
  const results = await eslint.lintFiles(["src/**/*.ts"]);
  const broken = results.flatMap((r) => r.messages.filter((m) => m.ruleId === RULE).map((m) => `${r.filePath.slice(root.length + 1)}:${m.line}: ${m.message}`));
  assert.deepEqual(broken, []);
});
