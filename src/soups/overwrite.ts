// A soup's report goes next to its weights (soup.safetensors -> soup.json). That name may already
// hold someone else's file: only a report of an earlier soup of the same weights is replaced.
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { PftError } from "../errors.js";

/** PftError("io") when `reportPath` exists and is not an earlier soup report for `weights`; checked before anything is written. */
export function assertReplaceableReport(reportPath: string, weights: string): void {
  if (!existsSync(reportPath)) return;
  let ours = false;
  try {
    const r = JSON.parse(readFileSync(reportPath, "utf8")) as { method?: unknown; weights?: unknown; soup?: unknown };
    ours = (r.method === "uniform" || r.method === "greedy") && typeof r.weights === "string" && basename(r.weights) === basename(weights) && typeof r.soup === "object";
  } catch {
    ours = false;
  }
  if (!ours) throw new PftError("io", `${reportPath} exists and is not the report of an earlier soup of ${basename(weights)}: the soup would overwrite it (remove it or pick another --out)`);
}
