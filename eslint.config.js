// Lint: typescript-eslint's recommended rules, and the layering of docs/architecture.md as import
// rules. `npm run lint` runs it; `npm test` runs it before the tests.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * What each folder of src/ may import from the rest of pft (besides itself). One home for the
 * layering: docs/architecture.md describes it, test/lint/layering.test.ts checks that it bites.
 * Nothing lists `cli`: nothing imports it. `report` lists nothing: it reads study records
 * and may import their types only.
 */
export const LAYERS = {
  engine: ["errors"],
  nn: ["errors", "engine"],
  optim: ["errors", "engine", "nn"],
  models: ["errors", "engine", "nn"],
  data: ["errors", "engine"],
  partial: ["errors", "engine", "nn", "models"],
  peft: ["errors", "engine", "nn", "models"],
  train: ["errors", "engine", "nn", "optim", "models", "data", "partial", "peft"],
  soups: ["errors", "engine", "nn", "models", "data", "partial", "train"],
  robust: ["errors", "engine", "nn", "optim", "models", "data", "partial", "peft", "train"],
  study: ["errors", "engine", "nn", "optim", "models", "data", "partial", "peft", "train", "soups", "robust", "report"],
  report: [],
};

const FOLDERS = [...Object.keys(LAYERS), "cli"];
const alternatives = (names) => names.map((n) => n.replace(/[.]/g, "\\.")).join("|");

/** src/FOLDER/** may import `allowed` (sibling folders, one level up) and nothing else of pft. */
function layer(folder, allowed) {
  const forbidden = FOLDERS.filter((f) => f !== folder && !allowed.includes(f));
  const patterns = [
    {
      regex: `^\\.\\./(${alternatives(forbidden)})(/|\\.js$|$)`,
      message: `src/${folder} sits above these folders in docs/architecture.md's layering and may not import them.`,
      allowTypeImports: folder === "report",
    },
    {
      regex: "^(\\.\\./)+(bench|test|scripts)(/|$)",
      message: "the library does not import benchmarks, tests or scripts.",
    },
  ];
  if (!allowed.includes("errors")) {
    patterns.push({ regex: "^\\.\\./errors\\.js$", message: `src/${folder} imports nothing else of pft.`, allowTypeImports: folder === "report" });
  }
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns }] },
  };
}

export default tseslint.config(
  { ignores: ["dist/**", "build/**", "node_modules/**", "studies/**", "runs/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      // `_x` marks a parameter an override does not use (Module.forward's signature).
      "@typescript-eslint/no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // node-gyp's helper (binding.gyp runs it with plain node)
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable", process: "readonly", console: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // plain-node scripts (setup.sh runs scripts/link-bin.mjs)
    files: ["**/*.mjs"],
    languageOptions: { sourceType: "module", globals: { process: "readonly", console: "readonly" } },
  },
  ...Object.entries(LAYERS).map(([folder, allowed]) => layer(folder, allowed)),
  {
    files: ["src/errors.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [{ regex: "^\\.", message: "src/errors.ts imports nothing of pft." }] }] },
  },
  {
    files: ["src/index.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [{ regex: "^\\./cli(/|$)", message: "nothing imports src/cli." }] }] },
  },
);
