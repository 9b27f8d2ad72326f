import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { CommandFailed } from "./usage-error.js";

/**
 * How buf sees the user's protos and airlock's own: a v2 workspace, given to buf as --config
 * data, rooted at the nearest folder holding both, so that user files can import
 * "airlock/v1/options.proto" without copying it anywhere. buf needs module paths relative to
 * the workspace root and inside it.
 */
export interface BufWorkspace {
  /** The workspace root; buf runs there. */
  readonly root: string;
  /** The user's module, relative to the root: the input to generate. */
  readonly input: string;
  /** buf.yaml (v2) contents. */
  readonly config: object;
}

/** Plans the workspace for `protoDir`, adding airlock's proto folder unless the user's folder already holds options.proto. */
export function planWorkspace(protoDir: string, airlockProtoDir: string): BufWorkspace {
  checkProtoDir(protoDir);
  if (existsSync(join(protoDir, "airlock", "v1", "options.proto"))) {
    // airlock's own proto folder, or a user's folder that keeps a copy of options.proto.
    return { root: protoDir, input: ".", config: { version: "v2", modules: [userModule(protoDir, protoDir, [])] } };
  }
  const root = commonAncestor(protoDir, airlockProtoDir);
  const modules = [userModule(root, protoDir, [airlockProtoDir]), { path: relative(root, airlockProtoDir) || "." }];
  return { root, input: relative(root, protoDir) || ".", config: { version: "v2", modules } };
}

/**
 * The user's module; node_modules and the given folders found inside it are left out. buf
 * refuses an exclude within another, as airlock's proto folder is within node_modules when
 * `--proto .` names a project that installed airlock: only the outermost are kept.
 */
function userModule(root: string, protoDir: string, others: readonly string[]): object {
  const path = relative(root, protoDir) || ".";
  const inside = [...new Set([join(protoDir, "node_modules"), ...others])].filter(
    (dir) => dir !== protoDir && isInside(dir, protoDir) && existsSync(dir),
  );
  const excludes = inside
    .filter((dir) => !inside.some((other) => other !== dir && isInside(dir, other)))
    .map((dir) => relative(root, dir));
  return excludes.length > 0 ? { path, excludes } : { path };
}

function checkProtoDir(protoDir: string): void {
  if (!existsSync(protoDir) || !statSync(protoDir).isDirectory()) {
    throw new CommandFailed(`no proto folder at ${protoDir} (set it with --proto DIR)`);
  }
  if (!containsProto(protoDir)) {
    throw new CommandFailed(`no .proto files under ${protoDir}`);
  }
}

function containsProto(dir: string): boolean {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith(".proto")) {
      return true;
    }
    if (entry.isDirectory() && entry.name !== "node_modules" && containsProto(join(dir, entry.name))) {
      return true;
    }
  }
  return false;
}

/** Whether `path` is `dir` or lies under it. */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep));
}

function commonAncestor(a: string, b: string): string {
  let dir = a;
  while (!isInside(b, dir)) {
    dir = dirname(dir);
  }
  return dir;
}
