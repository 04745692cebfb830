// The report as data: sections of blocks (paragraphs, claim lists, tables, figures, code), built
// once from the records and rendered twice, as markdown and as HTML.
//
// Inline text may use **bold** and `code`; both renderers understand exactly these two.

export interface Table {
  head: string[];
  rows: string[][];
  /** Per column: "l" (default) or "r". */
  align?: ("l" | "r")[];
}

export interface Figure {
  /** File-safe id; also the SVG's id and its file name under figures/. */
  id: string;
  title: string;
  svg: string;
  caption: string;
}

export type Block =
  | { kind: "p"; text: string }
  | { kind: "list"; items: string[] }
  | { kind: "claims"; items: { verdict: "yes" | "no" | "n/a"; text: string }[] }
  | { kind: "table"; table: Table; caption?: string; collapsed?: boolean }
  | { kind: "figure"; figure: Figure }
  | { kind: "code"; text: string; collapsed?: boolean };

export interface Section {
  /** Stable anchor id (tests look for it). */
  id: string;
  title: string;
  blocks: Block[];
}

export interface ReportDocument {
  title: string;
  intro: Block[];
  sections: Section[];
}

/** Every figure of a document, in order. */
export function figuresOf(doc: ReportDocument): Figure[] {
  return doc.sections.flatMap((s) => s.blocks.flatMap((b) => (b.kind === "figure" ? [b.figure] : [])));
}
