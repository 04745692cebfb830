// Deterministic native memory: a training loop must never depend on the garbage collector.
//
//   const loss = scope(() => model.forward(x).crossEntropy(y));  // every temporary freed here,
//                                                               // `loss` survives (it was returned)
//
// Each tensor made while a scope is open belongs to that scope. When the scope's function
// returns, every tensor it owns is disposed except those reachable from the return value
// (a tensor, or arrays / plain objects / Maps of them), which move to the enclosing scope.
// If the function throws, everything it owned is disposed. Tensors made outside any scope,
// or taken out with `keep()`, are owned by the caller: dispose them, or leave them to the GC.
// Scopes are synchronous: an async function would return before its tensors are made.

export interface Owned {
  dispose(): void;
}

const stack: Set<Owned>[] = [];

/** Called by Tensor's constructor. */
export function adopt(t: Owned): Set<Owned> | null {
  const top = stack.length ? stack[stack.length - 1] : null;
  if (top) top.add(t);
  return top;
}

export function scope<T>(fn: () => T): T {
  const owned = new Set<Owned>();
  stack.push(owned);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of owned) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    for (const t of owned) t.dispose();
    throw new TypeError("scope() takes a synchronous function; its tensors were disposed before the promise settled");
  }
  const kept = new Set<Owned>();
  collect(result, owned, kept, 0);
  const parent = stack.length ? stack[stack.length - 1] : null;
  for (const t of owned) {
    if (!kept.has(t)) t.dispose();
    else if (parent) moveTo(t, parent);
    else moveTo(t, null);
  }
  return result;
}

/**
 * `fn` running in a scope of its own on every call: as a method decorator (`@scoped`) or around a
 * plain function. A method that makes intermediate tensors reads as if it made none, and only what
 * it returns survives, as with scope(). (Module runs every forward this way already.)
 */
export function scoped<This, A extends unknown[], R>(fn: (this: This, ...args: A) => R, _context?: ClassMethodDecoratorContext<This>): (this: This, ...args: A) => R {
  return function (this: This, ...args: A): R {
    return scope(() => fn.apply(this, args));
  };
}

/** Whether a scope is open (tensors made now will be freed by it). */
export function inScope(): boolean {
  return stack.length > 0;
}

// Tensors remember their scope so dispose() and keep() can leave it; see Tensor.
export interface ScopeMember extends Owned {
  _scope: Set<Owned> | null;
  /** Called when the member leaves every scope: the GC now decides its lifetime. */
  _unscoped?(): void;
}

export function moveTo(t: Owned, target: Set<Owned> | null): void {
  const m = t as ScopeMember;
  m._scope?.delete(t);
  m._scope = target;
  if (target) target.add(t);
  else m._unscoped?.();
}

function collect(v: unknown, owned: Set<Owned>, kept: Set<Owned>, depth: number): void {
  if (v === null || typeof v !== "object" || depth > 4) return;
  if (owned.has(v as Owned)) {
    kept.add(v as Owned);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, owned, kept, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collect(x, owned, kept, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, owned, kept, depth + 1);
}
