import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Code, createPool, type Pool, type PoolOptions } from "airlock";
import { createTestServiceClient, type TestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./support/crashy.js";
import { rejection } from "./support/expect.js";
import { checkLeaksAfterEach, eventually } from "./support/leaks.js";

const arenaBytes = 256 * 1024 * 1024;
const threshold = 64 * 1024;

let pool: Pool | undefined;
let client: TestServiceClient;

async function start(options: Partial<PoolOptions> = {}): Promise<Pool> {
  pool = await createPool({
    worker: workerPath("test-worker"),
    workers: 1,
    forwardStderr: false,
    blobs: { argumentArenaBytes: arenaBytes, resultArenaBytes: arenaBytes, thresholdBytes: threshold },
    ...options,
  });
  client = createTestServiceClient(pool);
  return pool;
}

afterEach(async () => {
  await pool?.close({ timeoutMs: 100 });
  pool = undefined;
});
checkLeaksAfterEach();

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 255;
  return bytes;
}

function checksum(bytes: Uint8Array): number {
  return bytes.reduce((sum, byte) => (sum + byte) >>> 0, 0);
}

function memfdMappings(): number {
  return readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .filter((line) => line.includes("memfd:airlock")).length;
}

test("large bytes reach the handler as zero-copy views into shared memory; small bytes travel inline", async () => {
  await start();
  const big = pattern(4 * 1024 * 1024, 1);
  const small = pattern(1024, 2);
  const reply = await client.blobs({ data: big, parts: [small, pattern(threshold, 3)] });
  const [data, part0, part1] = reply.seen;
  expect(data).toMatchObject({ where: "data", length: big.length, checksum: checksum(big), bufferBytes: BigInt(arenaBytes) });
  expect(part0).toMatchObject({ where: "parts[0]", length: 1024, checksum: checksum(small) });
  expect(part0!.bufferBytes).not.toBe(BigInt(arenaBytes));
  expect(part1).toMatchObject({ where: "parts[1]", length: threshold, bufferBytes: BigInt(arenaBytes) });
  expect(pool!.stats().blobBytes).toBe(0);
});

test("blobs are found in nested messages, lists and oneofs", async () => {
  await start();
  const values = [pattern(100_000, 4), pattern(200_000, 5), pattern(300_000, 6), pattern(70_000, 7)];
  const reply = await client.blobs({
    nested: { inner: values[0], children: [{ inner: values[1] }, { children: [{ inner: values[2] }] }] },
    choice: { case: "chosen", value: values[3]! },
  });
  const byWhere = Object.fromEntries(reply.seen.map((seen) => [seen.where, seen]));
  expect(byWhere["nested.inner"]).toMatchObject({ checksum: checksum(values[0]!), bufferBytes: BigInt(arenaBytes) });
  expect(byWhere["nested.children[0].inner"]).toMatchObject({ checksum: checksum(values[1]!), bufferBytes: BigInt(arenaBytes) });
  expect(byWhere["nested.children[1].children[0].inner"]).toMatchObject({ checksum: checksum(values[2]!), bufferBytes: BigInt(arenaBytes) });
  expect(byWhere["chosen"]).toMatchObject({ checksum: checksum(values[3]!), bufferBytes: BigInt(arenaBytes) });
});

test("the (airlock.v1.blob) field option forces a small field into shared memory, or a large one out of it", async () => {
  await start();
  const reply = await client.blobs({ alwaysBlob: pattern(100, 15), neverBlob: pattern(300_000, 16) });
  const byWhere = Object.fromEntries(reply.seen.map((seen) => [seen.where, seen]));
  expect(byWhere["alwaysBlob"]).toMatchObject({ length: 100, checksum: checksum(pattern(100, 15)), bufferBytes: BigInt(arenaBytes) });
  expect(byWhere["neverBlob"]).toMatchObject({ length: 300_000, checksum: checksum(pattern(300_000, 16)) });
  expect(byWhere["neverBlob"]!.bufferBytes).not.toBe(BigInt(arenaBytes));
});

test("the caller's request message is not modified", async () => {
  await start();
  const request = { data: pattern(200_000, 8), parts: [pattern(100_000, 9)] };
  await client.blobs(request);
  expect(request.data.length).toBe(200_000);
  expect(request.parts[0]!.length).toBe(100_000);
});

test("large result bytes come back through the worker's arena as a copy the caller owns", async () => {
  await start();
  const reply = await client.blobs({ replyBytes: 8 * 1024 * 1024 });
  expect(reply.data.length).toBe(8 * 1024 * 1024);
  expect(reply.data[12345]).toBe((12345 * 7) & 255);
  expect(reply.data.buffer.byteLength).toBe(reply.data.byteLength);
  // A copy outlives its worker.
  await rejection(client.crash({ how: "segfault" }));
  expect(reply.data[8 * 1024 * 1024 - 1]).toBe(((8 * 1024 * 1024 - 1) * 7) & 255);
});

test("a reply's blob bytes given back with releaseBlob() are reused, warm, by a later reply, and only once", async () => {
  await start();
  const first = await client.blobs({ replyBytes: 4 * 1024 * 1024 });
  const memory = first.data.buffer;
  pool!.releaseBlob(first.data);
  expect(() => pool!.releaseBlob(first.data)).toThrow(/allocBlob\(\), or a reply's bytes that came as a blob, once/);
  const second = await client.blobs({ replyBytes: 3 * 1024 * 1024 + 5 });
  expect(second.data.buffer).toBe(memory);
  expect(second.data.length).toBe(3 * 1024 * 1024 + 5);
  expect(second.data.every((byte, i) => byte === ((i * 7) & 255))).toBe(true);
  // Not given back: the next reply of that size gets memory of its own.
  expect((await client.blobs({ replyBytes: 3 * 1024 * 1024 })).data.buffer).not.toBe(memory);
  // Small bytes came inside the frame, and are no blob to give back.
  const small = await client.blobs({ replyBytes: 1000 });
  expect(() => pool!.releaseBlob(small.data)).toThrow(/allocBlob/);
});

test("allocBlob() is filled in place and reaches the worker with no copy", async () => {
  await start();
  const blob = pool!.allocBlob(1024 * 1024);
  blob.set(pattern(blob.length, 10));
  const reply = await client.blobs({ data: blob });
  expect(reply.seen[0]).toMatchObject({ checksum: checksum(blob), bufferBytes: BigInt(arenaBytes), byteOffset: BigInt(blob.byteOffset) });
  expect(pool!.stats().blobBytes).toBe(1024 * 1024);
  pool!.releaseBlob(blob);
  expect(pool!.stats().blobBytes).toBe(0);
});

test("a blob stays leased across retries and is released when the call settles", async () => {
  await start();
  const reply = await client.blobs({ data: pattern(500_000, 11), crashFirstAttempt: true });
  expect(reply.seen[0]).toMatchObject({ checksum: checksum(pattern(500_000, 11)), bufferBytes: BigInt(arenaBytes) });
  expect(pool!.stats()).toMatchObject({ retries: 1, blobBytes: 0 });
});

test("a blob of a call abandoned by its deadline stays leased until its worker answers", async () => {
  await start();
  const error = await rejection(client.blobs({ data: pattern(500_000, 12), delayMs: 300 }, { timeoutMs: 50 }));
  expect(error.code).toBe(Code.DeadlineExceeded);
  expect(pool!.stats().blobBytes).toBeGreaterThan(0);
  expect(await eventually(() => pool!.stats().blobBytes === 0, 2000)).toBe(true);
});

test("a handler that writes into an argument view dies by SIGSEGV, and the error says so", async () => {
  await start();
  const error = await rejection(client.blobs({ data: pattern(100_000, 13), writeIntoData: true }, { retry: false }));
  expect(error.code).toBe(Code.WorkerCrashed);
  expect(error.crash!.signal).toBe("SIGSEGV");
  expect(error.crash!.stderrTail).toMatch(/wrote into a read-only argument view/);
});

test("with blobs off, large bytes travel inside the frame", async () => {
  await start({ blobs: false });
  const reply = await client.blobs({ data: pattern(300_000, 14), replyBytes: 300_000 });
  expect(reply.seen[0]!.bufferBytes).not.toBe(BigInt(arenaBytes));
  expect(reply.data[299_999]).toBe((299_999 * 7) & 255);
  expect(() => pool!.allocBlob(10)).toThrow(/blobs are off/);
});

test("after thousands of blob calls with crashes in between, descriptors and mappings return to their baseline", async () => {
  const mappingsBefore = memfdMappings();
  await start({ workers: 2, concurrency: 4, restartIntensity: { maxRestarts: 1000, withinMs: 10_000 } });
  const calls = Array.from({ length: 2000 }, (_, i) =>
    client.blobs({ data: pattern(threshold + (i % 7) * 4096, i), replyBytes: i % 3 === 0 ? threshold : 0, crashFirstAttempt: i % 250 === 0 }),
  );
  const replies = await Promise.all(calls);
  expect(replies.every((reply, i) => reply.seen[0]!.checksum === checksum(pattern(threshold + (i % 7) * 4096, i)))).toBe(true);
  expect(pool!.stats()).toMatchObject({ blobBytes: 0, crashes: 8 });
  await pool!.close();
  pool = undefined;
  expect(memfdMappings()).toBe(mappingsBefore);
}, 60_000);

describe("thread isolation", () => {
  const startThreads = () => start({ isolation: "thread", forwardStderr: undefined, blobs: { thresholdBytes: threshold } });

  test("allocBlob() gives shared memory that the thread reads and writes in place, with no copy", async () => {
    await startThreads();
    const blob = pool!.allocBlob(1024 * 1024);
    blob.set(pattern(blob.length, 17));
    expect(blob.buffer).toBeInstanceOf(SharedArrayBuffer);
    const before = checksum(blob);
    expect(pool!.stats().blobBytes).toBe(1024 * 1024);
    // The handler writes data[0] = 1 before it sums: the caller sees the write, so nothing was copied.
    const reply = await client.blobs({ data: blob, writeIntoData: true });
    expect(blob[0]).toBe(1);
    expect(reply.seen[0]).toMatchObject({ length: blob.length, checksum: before - pattern(1, 17)[0]! + 1 });
    pool!.releaseBlob(blob);
    expect(pool!.stats().blobBytes).toBe(0);
    expect(() => pool!.releaseBlob(blob)).toThrow(/allocBlob/);
  });

  test("a plain large argument is copied once into shared memory; the caller's bytes are never touched", async () => {
    await startThreads();
    const big = pattern(4 * 1024 * 1024, 18);
    const reply = await client.blobs({ data: big, writeIntoData: true, parts: [pattern(1024, 19)] });
    expect(big[0]).toBe(pattern(1, 18)[0]);
    expect(reply.seen[0]).toMatchObject({ length: big.length, bufferBytes: BigInt(big.length), byteOffset: 0n });
    expect(reply.seen[1]).toMatchObject({ length: 1024, checksum: checksum(pattern(1024, 19)) });
    expect(pool!.stats().blobBytes).toBe(0);
  });

  test("kept shared copies of large arguments never carry stale bytes, and are held while a thread may read one", async () => {
    await startThreads();
    // The third reuses the first's copy (same size class, large enough); the others are new.
    const sizes = [300_000, 1_000_000, 280_000, 200_000];
    const buffers = [300_000, 1_000_000, 300_000, 200_000];
    for (const [i, size] of sizes.entries()) {
      const reply = await client.blobs({ data: pattern(size, 20 + i) });
      expect(reply.seen[0]).toMatchObject({ length: size, checksum: checksum(pattern(size, 20 + i)), bufferBytes: BigInt(buffers[i]!) });
    }
    // A call abandoned by its deadline keeps its copy until its thread has answered.
    const error = await rejection(client.blobs({ data: pattern(500_000, 30), delayMs: 300 }, { timeoutMs: 50 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(pool!.stats().blobBytes).toBe(500_000);
    expect(await eventually(() => pool!.stats().blobBytes === 0, 2000)).toBe(true);
  });

  test("large result bytes come back in a buffer of their own, and the handler may keep its bytes", async () => {
    await startThreads();
    const reply = await client.blobs({ replyBytes: 8 * 1024 * 1024 });
    expect(reply.data.buffer).toBeInstanceOf(ArrayBuffer);
    expect(reply.data.buffer.byteLength).toBe(8 * 1024 * 1024);
    expect(reply.data[12345]).toBe((12345 * 7) & 255);
    expect((await client.blobs({ replyBytes: 100_000 })).data[99_999]).toBe((99_999 * 7) & 255);
    // They were moved from the thread: giving them back is allowed, and does nothing.
    pool!.releaseBlob(reply.data);
    expect(reply.data[12345]).toBe((12345 * 7) & 255);
  });
});

test("arenas do not count as memory V8 could free, so they do not make the caller's GC work harder", async () => {
  const before = process.memoryUsage().external;
  await start();
  // An argument arena and a result arena per worker (the active one and the standby): 768 MiB mapped.
  expect(memfdMappings()).toBeGreaterThanOrEqual(3);
  expect(process.memoryUsage().external - before).toBeLessThan(64 * 1024 * 1024);
});

test("a mapping dropped without unmap() is unmapped once its buffer is collected", () => {
  const native = path.join(__dirname, "..", "runtime", "os", "native.js");
  const script = `
    const { readFileSync } = require("node:fs");
    const addon = require(${JSON.stringify(native)}).nativeAddon();
    const mapped = () => readFileSync("/proc/self/maps", "utf8").split("\\n").filter((l) => l.includes("memfd:airlock-dropped")).length;
    const fd = addon.memfdCreate("airlock-dropped", 1 << 20);
    (() => { new Uint8Array(addon.map(fd, 1 << 20, true))[0] = 1; })();
    addon.close(fd);
    const whileHeld = mapped();
    globalThis.gc();
    setImmediate(() => { globalThis.gc(); setImmediate(() => console.log(JSON.stringify({ whileHeld, afterCollection: mapped() }))); });
  `;
  const result = spawnSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" });
  expect(result.stderr).toBe("");
  expect(JSON.parse(result.stdout)).toEqual({ whileHeld: 1, afterCollection: 0 });
});
