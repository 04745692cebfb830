// The native seam: the addon's exports, the C++ definitions and the NativeModule interface
// (src/engine/native.ts, whose NATIVE_FUNCTIONS the compiler holds equal to the interface) name
// the same functions. A function added on one side only fails here, whichever side it is.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { NATIVE_FUNCTIONS, addonFile } from "../../src/engine/native.js";

/** What one side has that the other lacks, both ways, sorted. */
function diffNames(actual: Iterable<string>, declared: Iterable<string>): { undeclared: string[]; absent: string[] } {
  const a = new Set(actual);
  const d = new Set(declared);
  return {
    undeclared: [...a].filter((n) => !d.has(n)).sort(),
    absent: [...d].filter((n) => !a.has(n)).sort(),
  };
}

function assertSameNames(actual: Iterable<string>, what: string): void {
  const { undeclared, absent } = diffNames(actual, NATIVE_FUNCTIONS);
  assert.deepEqual(undeclared, [], `${what} has functions NativeModule does not declare: ${undeclared.join(", ")}`);
  assert.deepEqual(absent, [], `NativeModule declares functions ${what} lacks: ${absent.join(", ")}`);
}

test("the comparison fails both ways: an undeclared export and a declared name the addon lacks", () => {
  const names = [...NATIVE_FUNCTIONS];
  assert.deepEqual(diffNames([...names.slice(1), "notDeclared"], names), { undeclared: ["notDeclared"], absent: [names[0]] });
  assert.deepEqual(diffNames(names, names), { undeclared: [], absent: [] });
});

test("NATIVE_FUNCTIONS has no duplicates and covers the ~175 ops", () => {
  assert.equal(new Set(NATIVE_FUNCTIONS).size, NATIVE_FUNCTIONS.length);
  assert.ok(NATIVE_FUNCTIONS.length > 150, `only ${NATIVE_FUNCTIONS.length} names`);
});

test("the built addon exports exactly the functions NativeModule declares", () => {
  const addon = createRequire(import.meta.url)(addonFile()) as Record<string, unknown>;
  assertSameNames(Object.keys(addon), "the addon");
  for (const name of NATIVE_FUNCTIONS) assert.equal(typeof addon[name], "function", `${name} is not a function`);
});

test("native/*.cc defines exactly the functions NativeModule declares (a stale build would hide a new one)", () => {
  const dir = join(dirname(dirname(addonFile())), "..", "native");
  const defined: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cc"))) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (line.startsWith("#define")) continue;
      const m = /^(?:DEF\((\w+)\)|(?:UNARY|BINARY)\((\w+),)/.exec(line);
      if (m) defined.push(m[1] ?? m[2]);
    }
  }
  assert.equal(new Set(defined).size, defined.length, "a name is defined twice");
  assertSameNames(defined, "native/*.cc");
});
