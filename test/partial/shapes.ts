// Parameter names and shapes of the paper's four models (timm names), stored as JSON so the
// accounting tests build catalogs in milliseconds instead of instantiating 88M-parameter models.
// `shapes.test.ts` checks the files against createModel; regenerate them with
//   node dist/test/partial/shapes.js --write
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { catalogFromShapes, type Catalog } from "../../src/models/index.js";

export const PAPER_MODELS = ["vit_base_patch16_224", "swin_base_patch4_window7_224", "convnext_base", "asmlp_base"] as const;
export type PaperModel = (typeof PAPER_MODELS)[number];

export interface ShapeFixture {
  model: string;
  numClasses: number;
  /** The classifier's keys; their first dimension is the class count. */
  classifierKeys: string[];
  shapes: [string, number[]][];
}

// The JSON files sit in the source tree (test/partial/fixtures), next to this file's source.
const fixtureDir = new URL("../../../test/partial/fixtures/", import.meta.url);

export function readFixture(model: string): ShapeFixture {
  return JSON.parse(readFileSync(new URL(`${model}.json`, fixtureDir), "utf8")) as ShapeFixture;
}

/** The model's parameter shapes with a classifier for `numClasses` classes. */
export function shapesWithClasses(f: ShapeFixture, numClasses: number): Map<string, number[]> {
  return new Map(f.shapes.map(([k, s]) => [k, f.classifierKeys.includes(k) ? [numClasses, ...s.slice(1)] : s]));
}

const cache = new Map<string, Catalog>();
/** The paper model's catalog for a class count (CIFAR-100: 100, ImageNet-1K: 1000). */
export function paperCatalog(model: string, numClasses: number): Catalog {
  const key = `${model}/${numClasses}`;
  let c = cache.get(key);
  if (!c) cache.set(key, (c = catalogFromShapes(shapesWithClasses(readFixture(model), numClasses))));
  return c;
}

/** What createModel(model) says, in the fixture format. */
export async function fixtureFromModel(model: string): Promise<ShapeFixture> {
  const { createModel } = await import("../../src/models/index.js");
  const m = createModel(model);
  try {
    return { model, numClasses: m.numClasses, classifierKeys: m.classifierKeys(), shapes: m.namedParameters().map((n) => [n.name, [...n.param.shape]]) };
  } finally {
    m.dispose();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "--write") {
  for (const model of PAPER_MODELS) {
    const f = await fixtureFromModel(model);
    writeFileSync(new URL(`${model}.json`, fixtureDir), JSON.stringify(f) + "\n");
    console.log(`wrote ${model}.json (${f.shapes.length} parameters)`);
  }
}
