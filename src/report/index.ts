// The study report: run records (JSON) in, markdown + a self-contained HTML page + SVG figures
// out. Imports nothing from the rest of pft: anything that writes StudyRecords can be reported.
import { buildDocument } from "./build.js";
import { figuresOf, type Figure } from "./document.js";
import { renderHtml } from "./html.js";
import { renderMarkdown } from "./markdown.js";
import type { StudyRecords } from "./records.js";

export { RECORDS_FORMAT, RECORDS_VERSION, type StudyRecords, type DataRecord, type ModelRecord, type RunRecord, type RunResult, type RunPurpose, type RunKind, type AngleSet, type ConsistencyRecord, type DifficultyRecord, type SoupRecord, type RobustnessRecord, type CostRecord, type CostMethodRecord, type CostMeasure } from "./records.js";
export { checkClaims, methodRows, type Claim, type MethodRow, type Verdict } from "./analysis.js";
export { buildDocument } from "./build.js";
export { renderMarkdown, markdownTable } from "./markdown.js";
export { renderHtml } from "./html.js";
export { figuresOf, type ReportDocument, type Section, type Block, type Table, type Figure } from "./document.js";
export { summarize, type Summary } from "./stats.js";

export interface Report {
  markdown: string;
  html: string;
  /** The figures as standalone SVG documents (the markdown links them as figures/<id>.svg). */
  figures: Figure[];
}

export function buildReport(records: StudyRecords): Report {
  const doc = buildDocument(records);
  return { markdown: renderMarkdown(doc, "figures"), html: renderHtml(doc), figures: figuresOf(doc) };
}
