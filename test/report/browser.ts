// Headless Chromium (Debian's `chromium` package) for the report tests: load a page from a file,
// collect what it printed to the console, dump its DOM or take a screenshot.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The Chromium binary: $PFT_CHROMIUM, else the first of chromium / chromium-browser / google-chrome on PATH, else null. */
export function findChromium(): string | null {
  if (process.env.PFT_CHROMIUM) return existsSync(process.env.PFT_CHROMIUM) ? process.env.PFT_CHROMIUM : null;
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

export interface PageRun {
  status: number | null;
  /** The serialized DOM (with dumpDom). */
  dom: string;
  /** Console messages the page produced (errors, warnings, logs, uncaught exceptions). */
  console: string[];
  stderr: string;
}

/** Opens `file` headless (no network, no GPU, throwaway profile); `dumpDom` or `screenshot` (a PNG path). */
export function openPage(chromium: string, file: string, o: { dumpDom?: boolean; screenshot?: string; windowSize?: string } = {}): PageRun {
  const profile = mkdtempSync(join(tmpdir(), "pft-chromium-"));
  try {
    const args = [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      "--enable-logging=stderr",
      "--v=0",
      `--window-size=${o.windowSize ?? "1280,2000"}`,
      ...(o.dumpDom ? ["--dump-dom"] : []),
      ...(o.screenshot ? [`--screenshot=${o.screenshot}`] : []),
      `file://${file}`,
    ];
    const r = spawnSync(chromium, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
    // Console output reaches stderr as lines like `[...:INFO:CONSOLE:12] "message", source: file:///... (12)`.
    const consoleLines = (r.stderr ?? "").split("\n").filter((l) => /:CONSOLE[:(]/.test(l));
    return { status: r.status, dom: r.stdout ?? "", console: consoleLines, stderr: r.stderr ?? "" };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
