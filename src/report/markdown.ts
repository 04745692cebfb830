// The report document as markdown (GitHub-flavoured tables; figures as SVG files next to it).
import type { Block, ReportDocument, Table } from "./document.js";

/** A table cell: pipes escaped, line breaks flattened. */
const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function markdownTable(t: Table): string {
  const align = t.head.map((_, i) => (t.align?.[i] === "r" ? "---:" : "---"));
  return [`| ${t.head.map(cell).join(" | ")} |`, `| ${align.join(" | ")} |`, ...t.rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

const VERDICT_MARK = { yes: "✅", no: "❌", "n/a": "➖" } as const;

function block(b: Block, figureDir: string): string {
  switch (b.kind) {
    case "p":
      return b.text;
    case "list":
      return b.items.map((i) => `- ${i}`).join("\n");
    case "claims":
      return b.items.map((i) => `- ${VERDICT_MARK[i.verdict]} ${i.text}`).join("\n");
    case "table":
      return (b.caption ? `${b.caption}:\n\n` : "") + markdownTable(b.table);
    case "figure":
      return `![${b.figure.title}](${figureDir}/${b.figure.id}.svg)\n\n*${b.figure.caption}*`;
    case "code":
      return "```json\n" + b.text + "\n```";
  }
}

/** Markdown, with figures referenced as `${figureDir}/<id>.svg`. */
export function renderMarkdown(doc: ReportDocument, figureDir = "figures"): string {
  const out = [`# ${doc.title}`, ...doc.intro.map((b) => block(b, figureDir))];
  out.push("## Contents", doc.sections.map((s) => `- [${s.title}](#${s.id})`).join("\n"));
  for (const s of doc.sections) {
    out.push(`<a id="${s.id}"></a>\n\n## ${s.title}`);
    for (const b of s.blocks) out.push(block(b, figureDir));
  }
  return out.join("\n\n") + "\n";
}
