// The report document as one self-contained HTML page: inline CSS, figures as inline SVG, no
// scripts and no external resources (it opens offline, from a file, anywhere).
import type { Block, ReportDocument, Table } from "./document.js";
import { esc } from "./svg.js";

/** Escapes text, then turns **bold** and `code` into markup. */
export function inline(s: string): string {
  return esc(s)
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>");
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f; background: #fafafa; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 24px 64px; background: #ffffff; }
h1 { font-size: 26px; margin: 8px 0 12px; }
h2 { font-size: 20px; margin: 40px 0 10px; padding-top: 8px; border-top: 1px solid #e4e4e4; }
p { margin: 8px 0; max-width: 900px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f2f2f2; padding: 0 3px; border-radius: 3px; }
pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f6f6f6; padding: 12px; overflow: auto; max-height: 480px; }
nav ol { columns: 2; max-width: 760px; }
.table-wrap { overflow-x: auto; margin: 10px 0 18px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 4px 10px; text-align: left; vertical-align: top; }
td { max-width: 420px; }
th { background: #f4f6f8; font-weight: 600; position: sticky; top: 0; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:hover td { background: #fbfbf4; }
figure { margin: 14px 0 22px; display: inline-block; vertical-align: top; margin-right: 18px; max-width: 100%; }
figure svg { max-width: 100%; height: auto; border: 1px solid #ececec; }
figcaption { font-size: 13px; color: #555555; max-width: 640px; }
ul.claims { list-style: none; padding-left: 0; }
ul.claims li { margin: 6px 0; padding: 6px 10px; border-left: 4px solid #bbbbbb; background: #f8f8f8; max-width: 1000px; }
ul.claims li.yes { border-color: #009E73; }
ul.claims li.no { border-color: #D55E00; }
.badge { display: inline-block; min-width: 34px; text-align: center; font-size: 12px; font-weight: 700; border-radius: 3px; padding: 0 5px; margin-right: 6px; color: #ffffff; background: #888888; }
.badge.yes { background: #007a59; }
.badge.no { background: #b34700; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; color: #0b5cad; }
`;

function table(t: Table): string {
  const cls = (i: number) => (t.align?.[i] === "r" ? ' class="r"' : "");
  const head = `<tr>${t.head.map((h, i) => `<th${cls(i)}>${inline(h)}</th>`).join("")}</tr>`;
  const rows = t.rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${inline(c)}</td>`).join("")}</tr>`).join("\n");
  return `<div class="table-wrap"><table>\n<thead>${head}</thead>\n<tbody>\n${rows}\n</tbody></table></div>`;
}

function block(b: Block): string {
  switch (b.kind) {
    case "p":
      return `<p>${inline(b.text)}</p>`;
    case "list":
      return `<ul>${b.items.map((i) => `<li>${inline(i)}</li>`).join("")}</ul>`;
    case "claims":
      return `<ul class="claims">\n${b.items.map((i) => `<li class="${i.verdict === "n/a" ? "na" : i.verdict}"><span class="badge ${i.verdict === "n/a" ? "na" : i.verdict}">${esc(i.verdict)}</span>${inline(i.text)}</li>`).join("\n")}\n</ul>`;
    case "table": {
      const body = table(b.table);
      if (b.collapsed) return `<details><summary>${inline(b.caption ?? `Show the table (${b.table.rows.length} rows)`)}</summary>${body}</details>`;
      return (b.caption ? `<p>${inline(b.caption)}</p>` : "") + body;
    }
    case "figure": {
      // The caption wraps at the chart's width, so that charts sit side by side where the page allows.
      const width = /^<svg [^>]*\bwidth="([\d.]+)"/.exec(b.figure.svg)?.[1];
      return `<figure id="${esc(b.figure.id)}-figure"${width ? ` style="max-width: ${width}px"` : ""}>\n${b.figure.svg}\n<figcaption>${inline(b.figure.caption)}</figcaption>\n</figure>`;
    }
    case "code": {
      const body = `<pre><code>${esc(b.text)}</code></pre>`;
      return b.collapsed ? `<details><summary>Show</summary>${body}</details>` : body;
    }
  }
}

export function renderHtml(doc: ReportDocument): string {
  const nav = `<nav><ol>${doc.sections.map((s) => `<li><a href="#${esc(s.id)}">${inline(s.title)}</a></li>`).join("")}</ol></nav>`;
  const sections = doc.sections.map((s) => `<section id="${esc(s.id)}">\n<h2>${inline(s.title)}</h2>\n${s.blocks.map(block).join("\n")}\n</section>`).join("\n");
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    "<main>",
    `<h1>${esc(doc.title)}</h1>`,
    ...doc.intro.map(block),
    nav,
    sections,
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
