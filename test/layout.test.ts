// runtime/ is one folder per part of the architecture, and imports run one way: no module
// imports itself back through others, and no folder through other folders (type imports count:
// a cycle of types is a cycle of concepts).
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { repoRoot } from "./support/crashy.js";

const runtime = path.join(repoRoot, "runtime");

/** Every runtime module by its path relative to runtime/, with the runtime modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith(".ts")) {
        const source = readFileSync(file, "utf8");
        const targets = [...source.matchAll(/(?:from|import|require)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) =>
          path.relative(runtime, path.resolve(path.dirname(file), match[1]!)).replace(/\.js$/, ".ts"),
        );
        graph.set(path.relative(runtime, file), targets.filter((target) => !target.startsWith("..")));
      }
    }
  };
  visit(runtime);
  return graph;
}

/** The first cycle found in a graph, as the nodes along it, or undefined. */
function findCycle(graph: Map<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const dfs = (node: string): string[] | undefined => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const cycle = dfs(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    if (state.get(node) !== undefined) continue;
    const cycle = dfs(node);
    if (cycle) return cycle;
  }
  return undefined;
}

const folderOf = (module: string) => (module.includes(path.sep) ? module.split(path.sep)[0]! : "(top)");

test("no runtime module imports itself back", () => {
  expect(findCycle(importGraph())).toBeUndefined();
});

test("no runtime folder imports itself back through other folders", () => {
  const folders = new Map<string, string[]>();
  for (const [module, targets] of importGraph()) {
    const from = folderOf(module);
    const to = new Set(folders.get(from) ?? []);
    for (const target of targets) if (folderOf(target) !== from) to.add(folderOf(target));
    folders.set(from, [...to]);
  }
  expect(findCycle(folders)).toBeUndefined();
});
