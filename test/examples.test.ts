// The examples, run the way users run them (compiled, each its own process) at CI size: each
// must exit 0, the sign that it saw what it promises, and print the lines its README shows.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { checkLeaksAfterEach } from "./support/leaks.js";

const repoRoot = path.resolve(__dirname, "../..");

/** How an example's process ended, and everything it printed. */
interface Run {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runExample(name: string, ...args: string[]): Promise<Run> {
  const main = path.join(repoRoot, "dist", "examples", name, "main.js");
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { cwd: repoRoot, timeout: 50_000 }, (error, stdout, stderr) => {
      // execFile's error carries the exit code; a kill at the timeout leaves it null.
      const exitCode = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ exitCode, stdout, stderr });
    });
  });
}

// Prints the output when the exit code is wrong, so a CI log says why.
function expectSuccess(run: Run): void {
  if (run.exitCode !== 0) console.error(`${run.stdout}\n${run.stderr}`);
  expect(run.exitCode).toBe(0);
}

checkLeaksAfterEach();

test("native-crash: every good input answered, every bug contained, the leaker recycled", async () => {
  const run = await runExample("native-crash", "--small");
  expectSuccess(run);
  expect(run.stdout).toMatch(/format %s with an int +1\/1 +as expected +POISON_PILL \(SIGSEGV x3\)/);
  expect(run.stdout).toMatch(/format too long +1\/1 +as expected +POISON_PILL \(SIGABRT x3\)/);
  expect(run.stdout).toMatch(/unescape trailing \\ +1\/1 +as expected +POISON_PILL \(hung x2\)/);
  expect(run.stdout).toMatch(/^hangs killed: +2$/m);
  expect(run.stdout).toMatch(/^recycled workers: +[1-9]/m);
  expect(run.stdout).toMatch(/^result: every good input answered correctly/m);
  // Not a terminal: plain progress lines, no carriage returns.
  expect(run.stdout).not.toMatch(/\r/);
}, 60_000);

test("stream: tiles arrive as they are rendered; each crash after the first tile ends the stream with the count delivered, and the caller resumes", async () => {
  const run = await runExample("stream", "--small");
  expectSuccess(run);
  expect(run.stdout).toMatch(/^ {2}tile 21 crashed the worker after 21 tiles of this stream \(SIGSEGV, pid \d+\); resuming at tile 22$/m);
  expect(run.stdout).toMatch(/^ {2}tile 29 crashed the worker after 7 tiles of this stream \(SIGSEGV, pid \d+\); resuming at tile 30$/m);
  expect(run.stdout).toMatch(/^tiles received: 46 of 48, 2 lost to crashes \(21, 29\)$/m);
  expect(run.stdout).toMatch(/^result: every tile but the crashing ones arrived/m);
}, 60_000);

test("native-crash: a mistyped flag is an error, not a silent full run", async () => {
  const run = await runExample("native-crash", "--cals", "10");
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toMatch(/Unknown option '--cals'/);
  expect(run.stderr).toMatch(/usage: main.js \[--small\] \[--calls N \(5000\)\]/);
});

test("image: sharp in workers gives the in-process output and refuses bad files with INVALID_ARGUMENT", async () => {
  const run = await runExample("image", "--small");
  expectSuccess(run);
  expect(run.stdout).toMatch(/^airlock workers: +[\d.]+ images\/s, \d+ MiB\/s in/m);
  expect(run.stdout).toMatch(/^outputs identical to in-process: yes$/m);
  expect(run.stdout).toMatch(/intact PNG +-> 256x256, 4 channels/);
  expect(run.stdout).toMatch(/PNG cut at 60% +-> INVALID_ARGUMENT: sharp: /);
  expect(run.stdout).toMatch(/PNG claiming 100000x100000 +-> INVALID_ARGUMENT: sharp: Input image exceeds pixel limit/);
  expect(run.stdout).toMatch(/^worker crashes: 0;/m);
}, 60_000);

test.each([[[]], [["--threads"]]])("quickstart %j: a formatted reply, a burst of calls, a typed error, a clean close", async (args) => {
  const run = await runExample("quickstart", ...args);
  expectSuccess(run);
  expect(run.stdout).toMatch(args.length ? /started 2 worker threads and a warm spare \(thread ids \d+, \d+, \d+\)/ : /started 2 workers and a warm spare \(pids \d+, \d+, \d+\)/);
  expect(run.stdout).toMatch(/format -> "cart-17 has 3 items costing 9.75"/);
  expect(run.stdout).toMatch(/1000 calls in \d+ ms/);
  expect(run.stdout).toMatch(/a bad request -> INVALID_ARGUMENT/);
  expect(run.stdout).toMatch(/closed; workers left running: 0/);
}, 60_000);

test("retry-policy: the caller sees retries, bare crashes, then an open circuit", async () => {
  const run = await runExample("retry-policy", "--small");
  expectSuccess(run);
  const strips = [...run.stdout.matchAll(/^ {3}calls: +(\S+)$/gm)].map((match) => match[1]);
  expect(strips).toEqual(["....r....r..P.r....r....r....r", "....C....C..C.C....C....C....C", "....r....r..OOOOOOOOOOOOOOOOOO"]);
  expect(run.stdout).toMatch(/after the cool-down, a probe call: answered 4/);
}, 60_000);

test("ffi: koffi calls are checked against node:zlib, and strlen(NULL) is a typed SIGSEGV", async () => {
  const run = await runExample("ffi", "--small");
  expectSuccess(run);
  expect(run.stdout).toMatch(/100 crc32 \+ 100 compress2 calls: 100 correct/);
  expect(run.stdout).toMatch(/strlen\(NULL\), no retry +-> WORKER_CRASHED \(SIGSEGV\)/);
  expect(run.stdout).toMatch(/strlen\(NULL\), proto's policy -> POISON_PILL \(SIGSEGV x2\)/);
}, 60_000);

test("remote: connect over a local pool, airlock serve for grpc-js, curl and the remote channel, a shared Unix socket", async () => {
  const run = await runExample("remote");
  expectSuccess(run);
  expect(run.stdout).toMatch(/ok +crash\(\) +ConnectError Unavailable, airlock code WORKER_CRASHED \(SIGSEGV\)/);
  expect(run.stdout).toMatch(/ok +grpc-js sha256\(hello\)/);
  expect(run.stdout).toMatch(/ok +curl \(Connect JSON\) Sha256/);
  expect(run.stdout).toMatch(/ok +crash\(\) over the network +WORKER_CRASHED \(SIGSEGV\)/);
  expect(run.stdout).toMatch(/ok +SIGTERM drains and exits/);
  expect(run.stdout).toMatch(/^3\. a pool shared on unix:/m);
  expect(run.stdout).toMatch(/^result: every way answered as it should$/m);
}, 60_000);
