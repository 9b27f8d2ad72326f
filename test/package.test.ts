// airlock as a user gets it: `npm pack`, then `npm install` of the tarball into two fresh
// projects outside the repository, one ESM ("type": "module", `--proto .`) and one CommonJS
// (`--proto proto`); in each, `npx airlock generate` on a proto importing a well-known type and
// airlock's options, `tsc --strict`, and a real call through a process pool (and a thread
// pool). The projects install in parallel from npm's cache (--prefer-offline); each installs for
// itself, as a user would, rather than sharing one node_modules.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { eventually, hasExited } from "./support/proc.js";
import { checkLeaksAfterEach } from "./support/leaks.js";
import { run, type Run } from "./support/run.js";

/** Tests run from dist/test: the repository is two levels up. */
const root = path.resolve(__dirname, "../..");
const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  devDependencies: Record<string, string>;
};


/**
 * A user's shell: none of the npm_* variables that `npm test` exports, which would steer the
 * inner npm, and none of this repository's node_modules/.bin on PATH, whose node-gyp and tsc
 * would stand in for what the user's project lacks.
 */
const userEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("npm_") && name !== "INIT_CWD")),
  PATH: (process.env["PATH"] ?? "")
    .split(path.delimiter)
    .filter((dir) => !dir.startsWith(`${root}${path.sep}`))
    .join(path.delimiter),
};


/** Runs a step that must succeed; its output is in the error when it does not. */
async function step(command: string, args: readonly string[], cwd: string): Promise<Run> {
  const result = await run(command, args, { cwd, env: userEnv });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) exited with ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

/** Processes whose command line names a path under `dir`: a project's main and its pool's workers. */
function processesUnder(dir: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
      } catch {
        return false; // gone since the listing
      }
    })
    .map(Number);
}

const proto = `syntax = "proto3";

package greet.v1;

import "airlock/v1/options.proto";
import "google/protobuf/timestamp.proto";

service Greeter {
  rpc Greet(GreetRequest) returns (GreetReply) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (airlock.v1.retry) = { max_attempts: 2 retryable_codes: [WORKER_CRASHED] };
    option (airlock.v1.attempt_timeout_ms) = 5000;
  }
}

message GreetRequest {
  string name = 1;
}

message GreetReply {
  string text = 1;
  int32 pid = 2;
  google.protobuf.Timestamp at = 3;
}
`;

/** The worker module, the same for both kinds of project. */
const worker = `import { timestampNow } from "@bufbuild/protobuf/wkt";
import { serve } from "airlock";
import { GreeterDefinition } from "./gen/greet/v1/greet_airlock.js";

serve(GreeterDefinition, {
  greet: (request) => ({ text: \`hello \${request.name}\`, pid: process.pid, at: timestampNow() }),
});
`;

const imports = `import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { createPool } from "airlock";
import { createGreeterClient, GreeterDefinition } from "./gen/greet/v1/greet_airlock.js";`;

/** Calls Greet through a pool of each isolation; prints the replies and the method's generated retry policy as one JSON line. */
const greetBoth = `
async function greetBoth(worker: string, name: string): Promise<void> {
  const replies: Record<string, { text: string; pid: number; seconds: string }> = {};
  for (const isolation of ["process", "thread"] as const) {
    const pool = await createPool({ worker, isolation, workers: 1 });
    try {
      const reply = await createGreeterClient(pool).greet({ name }, { timeoutMs: 10_000 });
      const at: Timestamp | undefined = reply.at;
      replies[isolation] = { text: reply.text, pid: reply.pid, seconds: String(at?.seconds) };
    } finally {
      await pool.close();
    }
  }
  console.log(JSON.stringify({ ...replies, maxAttempts: GreeterDefinition.methods["greet"]?.retry?.maxAttempts }));
}
`;

const mains = {
  module: `import { fileURLToPath } from "node:url";
${imports}
${greetBoth}
await greetBoth(fileURLToPath(new URL("./worker.js", import.meta.url)), "esm");
`,
  commonjs: `${imports}
${greetBoth}
greetBoth(require.resolve("./worker.js"), "cjs").catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
`,
};

type Kind = keyof typeof mains;

/** Where each kind keeps its protos: the project root itself (node_modules and all), or proto/. */
const protoDirs: Record<Kind, string> = { module: ".", commonjs: "proto" };

interface Project {
  readonly dir: string;
  readonly install: Run;
  readonly seconds: Record<string, number>;
}

let work: string;
let tarball: { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] };
let projects: Record<Kind, Project>;
const timings: string[] = [];

async function timed<T>(seconds: Record<string, number>, name: string, action: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await action();
  } finally {
    seconds[name] = (performance.now() - start) / 1000;
  }
}

/** A fresh project of `kind` with airlock installed from the tarball, code generated and compiled. */
async function setUp(kind: Kind): Promise<Project> {
  const dir = path.join(work, kind === "module" ? "esm" : "cjs");
  const seconds: Record<string, number> = {};
  write(path.join(dir, "package.json"), JSON.stringify({ name: `airlock-user-${kind}`, version: "1.0.0", private: true, type: kind }, null, 2));
  // The user's own tools: their TypeScript and Node types, at the versions the repository uses (in npm's cache).
  const tools = ["typescript", "@types/node"].map((name) => `${name}@${manifest.devDependencies[name]}`);
  const install = await timed(seconds, "install", () =>
    step("npm", ["install", path.join(work, tarball.filename), ...tools, "--prefer-offline", "--no-audit", "--no-fund"], dir),
  );
  write(path.join(dir, protoDirs[kind], "greet/v1/greet.proto"), proto);
  await timed(seconds, "generate", () => step("npx", ["airlock", "generate", "--proto", protoDirs[kind], "--out", "gen"], dir));
  write(path.join(dir, "worker.ts"), worker);
  write(path.join(dir, "main.ts"), mains[kind]);
  // The ESM project also checks every .d.ts it sees, airlock's among them; the CommonJS one
  // skips them as `tsc --init` does, which halves its time.
  const compilerOptions = {
    strict: true,
    module: "node16",
    moduleResolution: "node16",
    target: "es2022",
    outDir: "dist",
    types: ["node"],
    skipLibCheck: kind === "commonjs",
  };
  write(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["*.ts", "gen/**/*.ts"] }, null, 2));
  await timed(seconds, "tsc", () => step("npx", ["tsc", "-p", "."], dir));
  return { dir, install, seconds };
}

interface Reply {
  readonly text: string;
  readonly pid: number;
  readonly seconds: string;
}

/** Runs the project's compiled main; returns what it printed once its pools' workers are gone. */
async function call(project: Project): Promise<{ process: Reply; thread: Reply; maxAttempts: number }> {
  const result = await timed(project.seconds, "call", () => run(process.execPath, ["dist/main.js"], { cwd: project.dir, env: userEnv }));
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  const replies = JSON.parse(result.stdout) as { process: Reply; thread: Reply; maxAttempts: number };
  await eventually(() => hasExited(replies.process.pid) && processesUnder(project.dir).length === 0);
  expect(processesUnder(project.dir)).toEqual([]);
  return replies;
}

checkLeaksAfterEach();

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "airlock-package-"));
  const start = performance.now();
  // --ignore-scripts: prepack would empty dist and prepare rebuild it (and test/gen) under the
  // running suite; `npm test` has just built what the tarball takes.
  const packed = await step("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], root);
  [tarball] = JSON.parse(packed.stdout) as (typeof tarball)[];
  timings.push(`pack ${((performance.now() - start) / 1000).toFixed(1)} s`);
  const [module, commonjs] = await Promise.all([setUp("module"), setUp("commonjs")]);
  projects = { module, commonjs };
}, 600_000);

afterAll(() => {
  for (const [kind, project] of Object.entries(projects ?? {})) {
    const steps = Object.entries(project.seconds).map(([name, s]) => `${name} ${s.toFixed(1)} s`);
    timings.push(`${kind}: ${steps.join(", ")}`);
  }
  console.log(`package test: ${timings.join("; ")}`);
  if (work) rmSync(work, { recursive: true, force: true });
});

jest.setTimeout(180_000);

describe("the tarball", () => {
  const paths = () => tarball.files.map((file) => file.path);

  test("holds the compiled runtime with its types, the CLI and plugin, airlock's protos, the addon's sources and its prebuild", () => {
    expect(paths()).toEqual(
      expect.arrayContaining([
        "package.json",
        "README.md",
        "bin/airlock.js",
        "bin/protoc-gen-airlock.js",
        "dist/runtime/index.js",
        "dist/runtime/index.d.ts",
        "dist/runtime/worker/process-main.js",
        "dist/codegen/cli/main.js",
        "dist/codegen/protoc-gen-airlock.js",
        "dist/codegen/gen/airlock/v1/options_pb.js",
        "proto/airlock/v1/options.proto",
        "native/binding.gyp",
        "native/src/addon.cc",
        "native/prebuilds/linux-x64/node.glibc.node",
      ]),
    );
    console.log(`package test: ${tarball.filename} is ${(tarball.size / 1024).toFixed(0)} KiB, ${tarball.entryCount} files`);
  });

  test("holds nothing of the repository's own: no tests, examples, benchmarks, sources, maps, builds or stale outputs", () => {
    const foreign = paths().filter((file) =>
      /^(test|examples|bench|runtime|codegen|node_modules)\/|^dist\/(test|examples|bench)\/|\.map$|tsbuildinfo|^native\/build\//.test(file),
    );
    expect(foreign).toEqual([]);
    // Every compiled file has its source today: a file deleted from runtime/ must not ship from an old dist/.
    const orphans = paths()
      .filter((file) => file.startsWith("dist/"))
      .map((file) => file.replace(/^dist\//, "").replace(/(\.d)?\.js$|\.d\.ts$/, ".ts"))
      .filter((source) => !existsSync(path.join(root, source)));
    expect(orphans).toEqual([]);
  });

  test("ships a prebuild built from the addon's sources as they are (else: npm run build:prebuild)", () => {
    const prebuild = require(path.join(root, "native", "prebuild.js")) as { sourceDigests(): string };
    const recorded = readFileSync(path.join(root, "native/prebuilds/linux-x64/sources.sha256"), "utf8");
    expect(recorded).toBe(prebuild.sourceDigests());
  });
});

describe.each(["module", "commonjs"] as const)("a fresh %s project that installs the tarball", (kind) => {
  test("gets no engine warning, builds nothing, and gets @bufbuild/protobuf as one copy shared with airlock", () => {
    const { dir, install } = projects[kind];
    expect(`${install.stdout}${install.stderr}`).not.toMatch(/EBADENGINE/);
    expect(existsSync(path.join(dir, "node_modules/airlock/native/build"))).toBe(false);
    const dependencies = Object.keys((JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { dependencies: object }).dependencies);
    expect(dependencies.sort()).toEqual(["@types/node", "airlock", "typescript"]);
    const fromProject = require.resolve("@bufbuild/protobuf", { paths: [dir] });
    const fromAirlock = require.resolve("@bufbuild/protobuf", { paths: [path.join(dir, "node_modules/airlock/dist/runtime")] });
    expect(fromProject).toBe(fromAirlock);
  });

  test(`generates with --proto ${protoDirs[kind]}, compiles under tsc --strict, and calls the service in a worker process and a worker thread`, async () => {
    const { dir } = projects[kind];
    expect(existsSync(path.join(dir, "gen/airlock/v1/options_pb.ts"))).toBe(true);
    const replies = await call(projects[kind]);
    const text = `hello ${kind === "module" ? "esm" : "cjs"}`;
    expect(replies).toMatchObject({ process: { text }, thread: { text }, maxAttempts: 2 });
    // A thread answers in the main process; the process pool's worker is another one.
    expect(replies.process.pid).not.toBe(replies.thread.pid);
    expect(Number(replies.process.seconds)).toBeGreaterThan(1_700_000_000);
  });
});

// After the calls above: this one takes the CommonJS project's prebuild away.
describe("the source build", () => {
  test("without a fitting prebuild: a clear error, then `npm rebuild airlock` builds the addon with airlock's dependencies alone", async () => {
    const project = projects.commonjs;
    const installed = path.join(project.dir, "node_modules/airlock/native");
    rmSync(path.join(installed, "prebuilds"), { recursive: true });
    const failed = await run(process.execPath, ["dist/main.js"], { cwd: project.dir, env: userEnv });
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain(`airlock's native addon has no prebuilt binary for this platform in ${installed} and was not built; build it from source with "npm rebuild airlock"`);
    await timed(project.seconds, "rebuild", () => step("npm", ["rebuild", "airlock"], project.dir));
    expect(existsSync(path.join(installed, "build/Release/airlock.node"))).toBe(true);
    expect((await call(project)).process.text).toBe("hello cjs");
  });
});
