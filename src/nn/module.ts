// Module: the base of every layer and model, as torch.nn.Module in timm's style.
//
// A module's field names ARE its state-dict keys. Children and parameters are found by reflection
// over the module's own enumerable properties, in insertion order (declaration order for class
// fields): a property holding a Module is a child, one holding a Parameter is a parameter.
//
//   class Block extends Module {
//     norm1 = new LayerNorm(dim);
//     attn = new Attention(dim);            // keys: norm1.weight, attn.qkv.weight, ...
//   }
//
// Rules that follow from reflection:
//   - submodules and parameters must be plain public fields (a `#private` field is invisible);
//     a field holding null (an optional layer that is off) is skipped;
//   - lists of modules go in a ModuleList (a plain array of modules is refused, not ignored);
//   - plain tensors are not state: register them with registerBuffer (persistent buffers are in
//     the state dict, non-persistent ones, e.g. Swin's relative_position_index, are not).
// Key order follows PyTorch: a module's own parameters, then its own buffers, then its children.
//
// A forward owns its dispose scope, as PyTorch's __call__ wraps forward: however it is called
// (by a parent's forward, a Segment, the trainer, a test), every tensor it makes and does not
// return is freed when it returns. So a forward reads like timm's, with no scope() of its own:
//
//   override forward(x: Tensor): Tensor {
//     x = x.add(this.attn.forward(this.norm1.forward(x)));   // norm1's output freed on return
//     return x.add(this.mlp.forward(this.norm2.forward(x)));
//   }
//
// Other methods that make intermediate tensors (forwardFeatures, a residual branch) say so with
// the `@scoped` decorator from the engine.
import { noGrad, scoped, type Tensor } from "../engine/index.js";
import { PftError } from "../errors.js";
import { Parameter, type NamedParameter } from "./parameter.js";

/** Parameters and persistent buffers by dotted key. */
export type StateDict = Map<string, Tensor>;

export interface NamedBuffer {
  name: string;
  tensor: Tensor;
  /** Whether it is saved in (and loaded from) the state dict. */
  persistent: boolean;
}

export interface NamedModule {
  /** Dotted path from the root ("" for the root itself). */
  name: string;
  module: Module;
}

export interface ShapeMismatch {
  key: string;
  /** The model's shape. */
  expected: number[];
  /** The checkpoint's shape. */
  got: number[];
}

/** What loadStateDict found: keys the model wants but the checkpoint lacks, and the reverse. */
export interface LoadReport {
  missing: string[];
  unexpected: string[];
  mismatched: ShapeMismatch[];
}

export interface LoadOptions {
  /** Throw on any missing, unexpected or mis-shaped key (default true). */
  strict?: boolean;
}

/** Which parameters setTrainable acts on: one name, a list of names, a pattern or a predicate. */
export type ParamSelector = string | readonly string[] | RegExp | ((name: string) => boolean);

const join = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);
const shapeStr = (s: readonly number[]): string => `[${s.join(", ")}]`;
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export class Module {
  /** Training mode (dropout, drop path on); set for the whole tree with train()/eval(). */
  training = true;
  #buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();

  constructor() {
    // The most derived forward, bound to this module and run in a scope on every call. An own
    // property, not enumerable (so not a member for the reflection below) and writable (tests wrap
    // a forward to observe it); `super.forward(x)` inside an override runs in the override's scope.
    const forward = scoped(this.forward).bind(this);
    Object.defineProperty(this, "forward", { value: forward, writable: true, configurable: true, enumerable: false });
  }

  /**
   * The module's computation for one input, run in a scope of its own (see above). Modules with
   * several inputs define their own methods.
   */
  forward(_x: Tensor): Tensor {
    throw new PftError("argument", `${this.constructor.name} has no forward(x)`);
  }

  // ---------------------------------------------------------------- structure (by reflection)

  /** Own parameters and direct children, in property insertion order. */
  #ownMembers(): { params: [string, Parameter][]; children: [string, Module][] } {
    const params: [string, Parameter][] = [];
    const children: [string, Module][] = [];
    for (const key of Object.keys(this)) {
      const v: unknown = (this as Record<string, unknown>)[key];
      if (v instanceof Parameter) params.push([key, v]);
      else if (v instanceof Module) children.push([key, v]);
      else if (Array.isArray(v) && v.some((e) => e instanceof Module || e instanceof Parameter)) {
        throw new PftError("argument", `${this.constructor.name}.${key} is a plain array of modules or parameters: use a ModuleList`);
      }
    }
    return { params, children };
  }

  /** Direct children with their field names. */
  namedChildren(): NamedModule[] {
    return this.#ownMembers().children.map(([name, module]) => ({ name, module }));
  }

  children(): Module[] {
    return this.#ownMembers().children.map(([, m]) => m);
  }

  /** This module and every descendant, pre-order, each once (the root is named ""). */
  namedModules(): NamedModule[] {
    const out: NamedModule[] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, prefix: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push({ name: prefix, module: m });
      for (const [name, child] of m.#ownMembers().children) visit(child, join(prefix, name));
    };
    visit(this, "");
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map((n) => n.module);
  }

  /** Every parameter with its state-dict key; a parameter shared by two modules is listed once. */
  namedParameters(): NamedParameter[] {
    const out: NamedParameter[] = [];
    const seen = new Set<Parameter>();
    for (const { name: prefix, module } of this.namedModules()) {
      for (const [name, param] of module.#ownMembers().params) {
        if (seen.has(param)) continue;
        seen.add(param);
        out.push({ name: join(prefix, name), param });
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map((n) => n.param);
  }

  /** Every buffer (persistent or not) with its dotted name. */
  namedBuffers(): NamedBuffer[] {
    const out: NamedBuffer[] = [];
    for (const { name: prefix, module } of this.namedModules()) {
      for (const [name, b] of module.#buffers) out.push({ name: join(prefix, name), tensor: b.tensor, persistent: b.persistent });
    }
    return out;
  }

  /** The descendant at a dotted path ("" is this module); throws PftError("argument") if absent. */
  getSubmodule(path: string): Module {
    return (path ? path.split(".") : []).reduce<Module>((m, part) => {
      const next: unknown = (m as unknown as Record<string, unknown>)[part];
      if (!Object.hasOwn(m, part) || !(next instanceof Module)) throw new PftError("argument", `no submodule '${path}'`);
      return next;
    }, this);
  }

  /** The parameter with this state-dict key; throws PftError("argument") if absent. */
  getParameter(name: string): Parameter {
    const found = this.namedParameters().find((n) => n.name === name);
    if (!found) throw new PftError("argument", `no parameter '${name}'`);
    return found.param;
  }

  /** Calls fn on every descendant and then on this module (post-order, as torch's apply). */
  apply(fn: (m: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  // ---------------------------------------------------------------- buffers

  /**
   * Registers a plain tensor as state (the module takes ownership: it is kept out of any scope and
   * freed by dispose()). Non-persistent buffers are left out of the state dict. Re-registering a
   * name replaces (and frees) the old tensor. Returns the tensor, to store in a field if wanted.
   */
  registerBuffer(name: string, tensor: Tensor, persistent = true): Tensor {
    if (!name || name.includes(".")) throw new PftError("argument", `invalid buffer name '${name}'`);
    const field: unknown = (this as Record<string, unknown>)[name];
    if (Object.hasOwn(this, name) && (field instanceof Module || field instanceof Parameter)) {
      throw new PftError("argument", `${this.constructor.name}.${name} is already a ${field instanceof Module ? "submodule" : "parameter"}`);
    }
    const old = this.#buffers.get(name);
    if (old && old.tensor !== tensor) old.tensor.dispose();
    this.#buffers.set(name, { tensor: tensor.keep(), persistent });
    return tensor;
  }

  /** This module's own buffer by name; throws PftError("argument") if absent. */
  buffer(name: string): Tensor {
    const b = this.#buffers.get(name);
    if (!b) throw new PftError("argument", `${this.constructor.name} has no buffer '${name}'`);
    return b.tensor;
  }

  // ---------------------------------------------------------------- modes

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  // ---------------------------------------------------------------- state dict

  /**
   * Parameters and persistent buffers by dotted key, in PyTorch's order. The values are the live
   * tensors (not copies): do not dispose them or write to them.
   */
  stateDict(): StateDict {
    const sd: StateDict = new Map();
    const visit = (m: Module, prefix: string): void => {
      const { params, children } = m.#ownMembers();
      for (const [name, p] of params) sd.set(join(prefix, name), p.value);
      for (const [name, b] of m.#buffers) if (b.persistent) sd.set(join(prefix, name), b.tensor);
      for (const [name, child] of children) visit(child, join(prefix, name));
    };
    visit(this, "");
    return sd;
  }

  /**
   * Copies checkpoint values into the model in place (same tensors, so optimizers stay valid),
   * under noGrad, converting dtype when the checkpoint's differs (a bf16 checkpoint loads into
   * float32 parameters). Strict (the default) checks everything first and throws
   * PftError("checkpoint") naming the first missing, unexpected or mis-shaped key, leaving the
   * model untouched; non-strict loads every key that matches and reports the rest.
   */
  loadStateDict(sd: ReadonlyMap<string, Tensor>, opts: LoadOptions = {}): LoadReport {
    const own = this.stateDict();
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [] };
    const matching: [Tensor, Tensor][] = [];
    for (const [key, dst] of own) {
      const src = sd.get(key);
      if (src === undefined) {
        report.missing.push(key);
        continue;
      }
      const [expected, got] = [dst.shape, src.shape];
      if (sameShape(expected, got)) matching.push([dst, src]);
      else report.mismatched.push({ key, expected, got });
    }
    for (const key of sd.keys()) if (!own.has(key)) report.unexpected.push(key);

    if (opts.strict ?? true) {
      const problems = report.missing.length + report.unexpected.length + report.mismatched.length;
      if (problems > 0) {
        const more = problems > 1 ? ` (${problems - 1} more problem${problems > 2 ? "s" : ""}: ${describe(report)})` : "";
        throw new PftError("checkpoint", `state dict does not fit ${this.constructor.name}: ${firstProblem(report)}${more}`);
      }
    }
    noGrad(() => {
      for (const [dst, src] of matching) dst.copy_(src);
    });
    return report;
  }

  // ---------------------------------------------------------------- freezing

  /**
   * Sets `trainable` on the selected parameters: a name, a list of names (each must exist), a
   * RegExp or a predicate over state-dict keys. Freezing drops the gradient. Returns how many
   * parameters were selected.
   */
  setTrainable(select: ParamSelector, trainable: boolean): number {
    const named = this.namedParameters();
    let pick: (name: string) => boolean;
    if (typeof select === "function") pick = select;
    else if (select instanceof RegExp) {
      const re = new RegExp(select.source, select.flags.replace(/[gy]/g, "")); // stateless test()
      pick = (n) => re.test(n);
    }
    else {
      const names = new Set(typeof select === "string" ? [select] : select);
      const known = new Set(named.map((n) => n.name));
      for (const n of names) if (!known.has(n)) throw new PftError("argument", `setTrainable: no parameter '${n}'`);
      pick = (n) => names.has(n);
    }
    let count = 0;
    for (const { name, param } of named) {
      if (!pick(name)) continue;
      param.trainable = trainable;
      count++;
    }
    return count;
  }

  /** Freezes every parameter (the usual first step of partial fine-tuning). */
  freezeAll(): this {
    this.setTrainable(() => true, false);
    return this;
  }

  unfreezeAll(): this {
    this.setTrainable(() => true, true);
    return this;
  }

  trainableParameters(): NamedParameter[] {
    return this.namedParameters().filter((n) => n.param.trainable);
  }

  /** Number of scalar parameters (each shared parameter counted once). */
  countParameters(opts: { trainableOnly?: boolean } = {}): number {
    const list = opts.trainableOnly ? this.trainableParameters() : this.namedParameters();
    return list.reduce((sum, n) => sum + n.param.numel(), 0);
  }

  /** Drops every parameter's gradient (set to none). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  // ---------------------------------------------------------------- ownership

  /** Frees every parameter and buffer of the tree now; the module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const m of this.modules()) {
      for (const b of m.#buffers.values()) b.tensor.dispose();
      m.#buffers.clear();
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function firstProblem(r: LoadReport): string {
  if (r.missing.length) return `missing key '${r.missing[0]}'`;
  if (r.unexpected.length) return `unexpected key '${r.unexpected[0]}'`;
  const m = r.mismatched[0];
  return `key '${m.key}' has shape ${shapeStr(m.got)} in the checkpoint, ${shapeStr(m.expected)} in the model`;
}

function describe(r: LoadReport): string {
  return `${r.missing.length} missing, ${r.unexpected.length} unexpected, ${r.mismatched.length} mis-shaped`;
}
