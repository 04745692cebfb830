// Module surgery: parameter-efficient methods act on a built model from outside, by putting a
// stand-in in place of one of its modules (`blocks.3.attn.qkv`), never by forking a model file.
//
// A stand-in adopts the module it replaces: that module's own parameters and children become the
// stand-in's own fields (the same objects, not copies), so `blocks.3.attn.qkv.weight` keeps its
// key and a pretrained checkpoint still loads; the method's parameters are added next to them
// (`blocks.3.attn.qkv.lora_A`). The replaced module is kept, private (invisible to reflection),
// and runs the original computation; `restoreAll` puts it back.
import type { Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Module, Parameter } from "../nn/index.js";

/**
 * Makes `base`'s own parameters and children `target`'s own fields, under the same names (the
 * same objects). A module with buffers of its own cannot be adopted (they are private to it).
 */
export function adopt(target: Module, base: Module): void {
  if (base.namedBuffers().some((b) => !b.name.includes("."))) {
    throw new PftError("config", `${base.constructor.name} has buffers of its own; it cannot be wrapped`);
  }
  for (const key of Object.keys(base)) {
    const v: unknown = (base as unknown as Record<string, unknown>)[key];
    if (v instanceof Module || v instanceof Parameter) (target as unknown as Record<string, unknown>)[key] = v;
  }
}

export abstract class StandIn<T extends Module = Module> extends Module {
  readonly #base: T;

  constructor(base: T) {
    super();
    adopt(this, base);
    this.#base = base;
  }

  /** The module this one stands in for (its parameters are this module's adopted ones). */
  get base(): T {
    return this.#base;
  }

  /** The original computation, in this stand-in's training mode. */
  protected baseForward(x: Tensor): Tensor {
    this.#base.training = this.training;
    return this.#base.forward(x);
  }

  /** The method's own parameters (not the adopted ones). */
  abstract ownParameters(): Parameter[];
}

/** Parent module and field name of the module at a dotted path. */
function locate(root: Module, path: string): { parent: Module; field: string } {
  const dot = path.lastIndexOf(".");
  if (!path) throw new PftError("argument", "cannot replace the root module");
  const parent = root.getSubmodule(dot < 0 ? "" : path.slice(0, dot));
  const field = path.slice(dot + 1);
  if (!Object.hasOwn(parent, field) || !((parent as unknown as Record<string, unknown>)[field] instanceof Module)) {
    throw new PftError("argument", `no submodule '${path}'`);
  }
  return { parent, field };
}

/** Puts `next` where the module at `path` is (a plain field or a ModuleList slot) and returns the old one. */
export function replaceModule(root: Module, path: string, next: Module): Module {
  const { parent, field } = locate(root, path);
  const slot = parent as unknown as Record<string, unknown>;
  const old = slot[field] as Module;
  slot[field] = next;
  return old;
}

/** Every module whose dotted path matches one of the patterns, in tree order. */
export function findModules(root: Module, patterns: readonly RegExp[]): { name: string; module: Module }[] {
  return root.namedModules().filter(({ name }) => name !== "" && patterns.some((re) => re.test(name)));
}

/**
 * Wraps every module at the given paths with `make` and returns the stand-ins by path. On an
 * error half-way, the modules replaced so far are put back.
 */
export function standIns<S extends StandIn>(root: Module, paths: readonly string[], make: (m: Module, path: string) => S): Map<string, S> {
  const done = new Map<string, S>();
  try {
    for (const path of paths) {
      const { parent, field } = locate(root, path);
      const s = make((parent as unknown as Record<string, Module>)[field], path);
      replaceModule(root, path, s);
      done.set(path, s);
    }
  } catch (e) {
    restoreAll(root, done);
    throw e;
  }
  return done;
}

/** Puts the original modules back and frees the stand-ins' own parameters. */
export function restoreAll(root: Module, placed: ReadonlyMap<string, StandIn>): void {
  for (const [path, s] of [...placed].reverse()) {
    replaceModule(root, path, s.base);
    for (const p of s.ownParameters()) p.dispose();
  }
}
