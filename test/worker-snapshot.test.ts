import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Code, createPool, type PoolOptions } from "airlock";
import { buildWorkerSnapshot } from "../runtime/worker/snapshot/build-worker-snapshot.js";
import { manifestPath, snapshotArgs, snapshotVariable, type SnapshotManifest } from "../runtime/worker/snapshot/worker-snapshot.js";
import { createTestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./support/crashy.js";
import { rejection } from "./support/expect.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

// A snapshot of this test's own, so that the test does not depend on `npm run build` having
// made a fresh one (tsc -b after it leaves dist/runtime/worker/snapshot/worker.blob stale).
let dir: string;
let blob: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "airlock-snapshot-test-"));
  blob = path.join(dir, "worker.blob");
  buildWorkerSnapshot(blob);
}, 60_000);

beforeEach(() => {
  process.env[snapshotVariable] = blob;
});

afterAll(() => {
  delete process.env[snapshotVariable];
  rmSync(dir, { recursive: true, force: true });
});

checkLeaksAfterEach();

function startedFromSnapshot(pid: number): boolean {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--snapshot-blob");
}

async function withPool(options: Partial<PoolOptions> & { worker: string }, use: (pool: Awaited<ReturnType<typeof createPool>>) => Promise<void>): Promise<void> {
  const pool = await createPool({ workers: 1, standby: 0, forwardStderr: false, ...options });
  try {
    await use(pool);
  } finally {
    await pool.close();
  }
}

/** A copy of the test's snapshot whose manifest `change` rewrites; returns the copy's path. */
function snapshotCopy(name: string, change: (manifest: SnapshotManifest) => SnapshotManifest): string {
  const copy = path.join(dir, `${name}.blob`);
  copyFileSync(blob, copy);
  const manifest = JSON.parse(readFileSync(manifestPath(blob), "utf8")) as SnapshotManifest;
  writeFileSync(manifestPath(copy), JSON.stringify(change(manifest)));
  return copy;
}

test("workers start from a fresh snapshot, answer, fail with their stacks and crash with their facts", async () => {
  await withPool({ worker: workerPath("test-worker") }, async (pool) => {
    expect(startedFromSnapshot(pool.pids()[0]!)).toBe(true);
    const client = createTestServiceClient(pool);
    await expect(client.echo({ text: "hi" })).resolves.toMatchObject({ text: "hi" });
    const failed = await rejection(client.fail({ code: "plain", message: "no luck" }));
    expect(failed.message).toMatch(/no luck/);
    expect(failed.details.remoteStack).toMatch(/test-worker/);
    const crashed = await rejection(client.crash({ how: "segfault" }, { retry: false }));
    expect(crashed.code).toBe(Code.WorkerCrashed);
    expect(crashed.crash).toMatchObject({ signal: "SIGSEGV", cause: "signal" });
    expect(crashed.crash!.stderrTail).toMatch(/about to crash by segfault/);
  });
});

test("a worker module that fails to load from the snapshot is reported with its error", async () => {
  expect(snapshotArgs([], process.env)).toEqual(["--snapshot-blob", blob]);
  const error = await rejection(createPool({ worker: workerPath("broken-worker"), workers: 1, standby: 0, forwardStderr: false }));
  expect(error.code).toBe(Code.WorkerStartFailed);
  expect(error.message).toMatch(/libfoo\.so\.1: cannot open shared object file/);
  expect(error.details.remoteStack).toMatch(/broken-worker/);
});

test("an ES module worker that awaits before serving starts, from the snapshot too", async () => {
  await withPool({ worker: path.join(path.dirname(workerPath("esm-worker")), "esm-worker.mjs") }, async (pool) => {
    expect(startedFromSnapshot(pool.pids()[0]!)).toBe(true);
    await expect(createTestServiceClient(pool).echo({ text: "hi" })).resolves.toMatchObject({ text: "esm hi" });
  });
});

test("workers start the usual way when the snapshot is missing or stale", async () => {
  const stale = snapshotCopy("stale", (manifest) => ({ ...manifest, files: manifest.files.map(([file, size, mtimeMs], i) => [file, size, i === 0 ? mtimeMs + 1 : mtimeMs] as const) }));
  for (const setting of [path.join(dir, "missing.blob"), stale]) {
    process.env[snapshotVariable] = setting;
    expect(snapshotArgs([], process.env)).toEqual([]);
    await withPool({ worker: workerPath("test-worker") }, async (pool) => {
      expect(startedFromSnapshot(pool.pids()[0]!)).toBe(false);
      await expect(createTestServiceClient(pool).echo({ text: "hi" })).resolves.toMatchObject({ text: "hi" });
    });
  }
});

test("a snapshot is not used when it was cut short, made by another Node, turned off, or does not fit the worker's options", () => {
  const truncated = snapshotCopy("truncated", (manifest) => manifest);
  truncateSync(truncated, 4096);
  const otherNode = snapshotCopy("other-node", (manifest) => ({ ...manifest, node: "v0.0.0" }));
  for (const setting of [truncated, otherNode, "off"]) {
    process.env[snapshotVariable] = setting;
    expect(snapshotArgs([], process.env)).toEqual([]);
  }
  process.env[snapshotVariable] = blob;
  expect(snapshotArgs([], process.env)).toEqual(["--snapshot-blob", blob]);
  // V8 refuses a snapshot made with other flags; a module that read a variable while loading kept its value then.
  expect(snapshotArgs(["--max-old-space-size=256"], process.env)).toEqual([]);
  expect(snapshotArgs([], { ...process.env, NODE_OPTIONS: "--stack-size=2000" })).toEqual([]);
  expect(snapshotArgs([], { ...process.env, BUF_BIGINT_DISABLE: "1" })).toEqual([]);
});
