// The one place that maps a dataset spec to its loader:
//   "mnist[:DIR]" | "fashion-mnist[:DIR]" | "digits[:FILE]" | "cifar10:DIR" | "cifar100:DIR" | "folder:DIR"
import { PftError } from "../errors.js";
import { makeSplits, type DatasetSplits, type ImageDataset, type SplitOptions } from "./dataset.js";
import { loadCifar10, loadCifar100 } from "./cifar.js";
import { loadDigits } from "./digits.js";
import { loadImageFolder, type FolderOptions } from "./folder.js";
import { loadFashionMnist, loadMnist } from "./idx.js";

/** Split options for every dataset, plus the folder loader's size/channels (ignored by the others). */
export interface LoadOptions extends SplitOptions, FolderOptions {}

interface Source {
  /** "required": the spec must name a path; "optional": a path overrides the default location. */
  path: "required" | "optional";
  load(path: string | undefined, opts: LoadOptions): { train: ImageDataset; val?: ImageDataset | null; test: ImageDataset };
}

const SOURCES: Record<string, Source> = {
  mnist: { path: "optional", load: (p) => loadMnist(p) },
  "fashion-mnist": { path: "optional", load: (p) => loadFashionMnist(p) },
  digits: { path: "optional", load: (p) => loadDigits(p) },
  cifar10: { path: "required", load: (p) => loadCifar10(p!) },
  cifar100: { path: "required", load: (p) => loadCifar100(p!) },
  folder: { path: "required", load: (p, o) => loadImageFolder(p!, { size: o.size, channels: o.channels }) },
};

export const DATASET_SPECS = "mnist, fashion-mnist, digits, cifar10:DIR, cifar100:DIR, folder:DIR";

/** Splits "kind:path" at the first colon and checks the kind and whether it needs a path. */
export function parseDatasetSpec(spec: string): { kind: string; path?: string } {
  const at = spec.indexOf(":");
  const kind = at < 0 ? spec : spec.slice(0, at);
  const path = at < 0 ? undefined : spec.slice(at + 1);
  const src = SOURCES[kind];
  if (!Object.hasOwn(SOURCES, kind) || !src) throw new PftError("config", `unknown dataset '${spec}': expected one of ${DATASET_SPECS}`);
  if (src.path === "required" && !path) throw new PftError("config", `dataset '${kind}' needs a path: ${kind}:DIR`);
  if (path === "") throw new PftError("config", `dataset '${spec}': empty path after ':'`);
  return { kind, path };
}

/**
 * Loads a dataset's train/test splits, then carves validation from train and takes per-class
 * subsets as `opts` asks (see SplitOptions). Missing data: PftError("data") saying what provides it.
 */
export function loadDataset(spec: string, opts: LoadOptions = {}): DatasetSplits {
  const { kind, path } = parseDatasetSpec(spec);
  const { train, val, test } = SOURCES[kind].load(path, opts);
  return makeSplits(train, test, opts, val ?? null);
}

/** One line for logs: "mnist/train: 60000 images, 1x28x28, 10 classes". */
export function describeDataset(ds: ImageDataset): string {
  return `${ds.name}: ${ds.length} images, ${ds.channels}x${ds.height}x${ds.width}, ${ds.classes.length} classes`;
}
