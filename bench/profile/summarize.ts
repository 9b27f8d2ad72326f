// Reads V8 .cpuprofile files (from node --cpu-prof) and tells where the time went: self time by
// function and by source file, and inclusive time by function, as shares of the busy time.
import { readFileSync } from "node:fs";
import * as path from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  /** [label, ms] sorted by ms, descending. */
  readonly selfByFunction: [string, number][];
  readonly selfByFile: [string, number][];
  readonly inclusiveByFunction: [string, number][];
}

/** A short name for a script: the part after node_modules/ or the repository's dist/. */
function shortFile(url: string): string {
  if (!url) return "";
  const clean = url.replace(/^file:\/\//, "");
  const modules = clean.lastIndexOf("node_modules/");
  if (modules >= 0) return clean.slice(modules + "node_modules/".length);
  const dist = clean.indexOf("/dist/");
  if (dist >= 0) return clean.slice(dist + "/dist/".length);
  return clean.startsWith("node:") ? clean : path.basename(clean);
}

function functionLabel(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = shortFile(url);
  return file ? `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}` : functionName || "(anonymous)";
}

function fileLabel(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (!url) return functionName; // (program), (garbage collector), (idle), (root)
  const file = shortFile(url);
  if (file.startsWith("@bufbuild/protobuf/")) return "@bufbuild/protobuf";
  if (file.startsWith("node:")) return file.replace(/^node:internal\//, "node:").split("/").slice(0, 2).join("/");
  return file;
}

function sorted(map: Map<string, number>): [string, number][] {
  return [...map].sort((a, b) => b[1] - a[1]);
}

export function summarizeProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfByFunction = new Map<string, number>();
  const selfByFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the gap to the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!)!;
    totalUs += us;
    if (node.callFrame.functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const label = functionLabel(node);
    selfByFunction.set(label, (selfByFunction.get(label) ?? 0) + us);
    const fileKey = fileLabel(node);
    selfByFile.set(fileKey, (selfByFile.get(fileKey) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const ancestor = byId.get(id)!;
      if (ancestor.callFrame.functionName === "(root)") break;
      const key = functionLabel(ancestor);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const ms = (entries: [string, number][]) => entries.map(([k, us]) => [k, us / 1000] as [string, number]);
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    selfByFunction: ms(sorted(selfByFunction)),
    selfByFile: ms(sorted(selfByFile)),
    inclusiveByFunction: ms(sorted(inclusive)),
  };
}

/** The summary as text: the top `top` rows of each list, in ms and % of busy (non-idle) time. */
export function formatSummary(title: string, summary: ProfileSummary, top = 20): string {
  const busy = summary.totalMs - summary.idleMs;
  const lines = [`== ${title}: ${busy.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms profiled`];
  const section = (name: string, rows: [string, number][]) => {
    lines.push(`-- ${name}`);
    for (const [label, ms] of rows.slice(0, top)) lines.push(`${((ms / busy) * 100).toFixed(1).padStart(6)}%  ${ms.toFixed(0).padStart(6)} ms  ${label}`);
  };
  section("self time by file", summary.selfByFile);
  section("self time by function", summary.selfByFunction);
  section("inclusive time by function", summary.inclusiveByFunction);
  return lines.join("\n");
}
