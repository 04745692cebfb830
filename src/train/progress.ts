// Progress for long jobs: a redrawn bar on a terminal, plain lines otherwise (CI logs).
export interface Progress {
  start(label: string, total: number): void;
  tick(done: number, info: string): void;
  end(summary: string): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { start() {}, tick() {}, end() {} };
  let label = "";
  let total = 0;
  let lastPlain = -1;
  const t0 = { v: 0 };
  const tty = Boolean(stream.isTTY);
  return {
    start(l, n) {
      label = l;
      total = n;
      lastPlain = -1;
      t0.v = Date.now();
    },
    tick(done, info) {
      const frac = total ? done / total : 1;
      if (tty) {
        const width = 24;
        const bar = "#".repeat(Math.round(frac * width)).padEnd(width, ".");
        stream.write(`\r${label} [${bar}] ${done}/${total} ${info}`.slice(0, (stream.columns ?? 120) - 1).padEnd(Math.min(stream.columns ?? 120, 120) - 1));
      } else {
        const quarter = Math.floor(frac * 4);
        if (quarter > lastPlain && quarter < 4) {
          lastPlain = quarter;
          stream.write(`${label} ${done}/${total} ${info}\n`);
        }
      }
    },
    end(summary) {
      const secs = ((Date.now() - t0.v) / 1000).toFixed(1);
      stream.write(`${tty ? "\r\x1b[K" : ""}${label} ${summary} (${secs}s)\n`);
    },
  };
}
