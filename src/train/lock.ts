// One process per run directory. OUT/.lock holds the owner's PID; a second process given the same
// --out is refused while the owner lives, and a lock left by a dead process is taken over. The
// owner is then the only writer, so the temporary files in OUT (and its ckpt-* directories) that
// are not its own are leftovers of killed writers and are removed.
//
//   const lock = acquireRunLock(out);   // PftError("io") when another live process holds it
//   try { ... } finally { lock.release(); }
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { PftError } from "../errors.js";
import { RUN_FILES } from "../files.js";

export const LOCK_FILE = RUN_FILES.lock;

export interface RunLock {
  readonly path: string;
  release(): void;
}

/** Whether a process with this PID exists (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function ownerOf(path: string): number | null {
  try {
    const pid = Number(JSON.parse(readFileSync(path, "utf8")).pid);
    return Number.isSafeInteger(pid) ? pid : null;
  } catch {
    return null; // unreadable or half-written: nobody we can wait for
  }
}

/** Takes the lock of run directory `dir` (which must exist), cleaning up dead writers' temporary files. */
export function acquireRunLock(dir: string): RunLock {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") throw new PftError("io", `cannot lock ${dir}: ${code ?? (e as Error).message} (${path})`);
      const owner = ownerOf(path);
      if (owner !== null && owner !== process.pid && pidAlive(owner)) {
        throw new PftError("io", `${dir} is in use by another pft process (pid ${owner}, ${path}): wait for it to finish or give another --out`);
      }
      rmSync(path, { force: true }); // stale: its owner is gone
      continue;
    }
    try {
      writeSync(fd, JSON.stringify({ pid: process.pid, started: new Date().toISOString() }) + "\n");
    } finally {
      closeSync(fd);
    }
    removeDeadWritersFiles(dir);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off("exit", release);
      if (ownerOf(path) === process.pid) rmSync(path, { force: true });
    };
    process.on("exit", release);
    return { path, release };
  }
  throw new PftError("io", `cannot lock ${dir}: another process keeps taking ${path}`);
}

/**
 * The temporary names pft's atomic writers use: `.NAME.<pid>.<hex>.tmp` (safetensors),
 * `NAME.tmp-<pid>` (small files, checkpoint directories). Returns the writer's PID.
 */
export function tempFileOwner(name: string): number | null {
  const m = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name) ?? /\.tmp-(\d+)$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Removes temporary files and directories in `dir` and its ckpt-* directories not written by this process. */
export function removeDeadWritersFiles(dir: string): string[] {
  const removed: string[] = [];
  const sweep = (d: string) => {
    for (const entry of readdirSync(d)) {
      const owner = tempFileOwner(entry);
      const p = join(d, entry);
      if (owner !== null && owner !== process.pid) {
        rmSync(p, { recursive: true, force: true });
        removed.push(p);
      } else if (d === dir && entry.startsWith("ckpt-") && existsSync(p) && statSync(p).isDirectory()) sweep(p);
    }
  };
  sweep(dir);
  return removed;
}
