import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The airlock package this code belongs to: its folder and its package.json. */
export interface AirlockPackage {
  readonly root: string;
  readonly version: string;
}

let found: AirlockPackage | undefined;

/** Finds the airlock package by walking up from this file to the package.json named "airlock". */
export function airlockPackage(): AirlockPackage {
  if (found !== undefined) {
    return found;
  }
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const manifest = readManifest(join(dir, "package.json"));
    if (manifest?.name === "airlock") {
      found = { root: dir, version: manifest.version ?? "0.0.0" };
      return found;
    }
    if (dirname(dir) === dir) {
      throw new Error(`cannot find the airlock package above ${__dirname}`);
    }
  }
}

function readManifest(path: string): { name?: string; version?: string } | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
  } catch {
    return undefined;
  }
}
