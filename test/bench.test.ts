// The benchmark harness's contenders (`npm run bench`): each starts, echoes small and 1 MiB
// payloads byte for byte, moves 1 MiB each way, and leaves no process or channel behind.
// No timing is asserted here.
import type { Contender } from "../bench/contender.js";
import { echoedBytes } from "../bench/measure/echo.js";
import { contenders } from "../bench/peers/index.js";
import { pattern } from "../bench/peers/work.js";
import { renderMarkdown } from "../bench/report/markdown.js";
import { renderSvg } from "../bench/report/svg.js";
import { evaluateTargets } from "../bench/report/targets.js";
import { metricsFor, type Results } from "../bench/model.js";
import { environment } from "../bench/report/environment.js";
import { quickSettings } from "../bench/settings.js";
import { childPids, checkLeaksAfterEach } from "./support/leaks.js";

const MiB = 1024 * 1024;
const processContenders = ["raw-socket", "airlock", "fork-json", "fork-advanced", "workerpool", "jest-worker", "grpc"];
let running: Contender | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});
checkLeaksAfterEach();

describe.each(contenders.map((entry) => [entry.id, entry] as const))("contender %s", (_id, entry) => {
  test("echoes, sends and fetches bytes exactly, from other processes (or threads)", async () => {
    const contender = entry.create();
    running = contender;
    await contender.start({ workers: 1, concurrency: 4 });

    const echo = async (payload: Buffer) => echoedBytes(contender, await contender.call(payload));
    const small = pattern(64);
    expect((await echo(small)).equals(small)).toBe(true);
    expect((await echo(Buffer.alloc(0))).length).toBe(0);
    const big = pattern(MiB);
    expect((await echo(big)).equals(big)).toBe(true);
    expect(await contender.send(big)).toBe(MiB);
    expect((await contender.fetch(MiB)).equals(big)).toBe(true);
    // Many in flight at once, each matched to its own reply.
    const payloads = Array.from({ length: 100 }, (_, i) => pattern(i + 1));
    const replies = await Promise.all(payloads.map(echo));
    expect(replies.every((reply, i) => reply.equals(payloads[i]!))).toBe(true);

    // The processes a contender reports are its workers, children of this process; the peers
    // built on processes must report theirs (piscina's threads and in-process references have none).
    const pids = contender.pids();
    for (const pid of pids) expect(childPids()).toContain(pid);
    if (processContenders.includes(entry.id)) expect(pids.length).toBeGreaterThanOrEqual(1);
  });
});

test("the reports render from results, with ratios and targets", () => {
  const ids = ["raw-socket", "airlock", "piscina", "workerpool", "jest-worker"];
  const results: Results = {
    schema: 1,
    mode: "quick",
    environment: environment(),
    settings: quickSettings,
    durationS: 1,
    loadAverages: {},
    baseline: "raw-socket",
    contenders: ids.map((id) => ({ id, name: id, version: "1", notes: "" })),
    metrics: metricsFor(quickSettings),
    rounds: {},
    crashRetry: [{ isolation: "process", standby: 1, plainMs: [0.2, 0.3], crashedMs: [12, 13] }],
    failures: [],
    skipped: [],
  };
  for (const metric of results.metrics) {
    results.rounds[metric.key] = Object.fromEntries(ids.map((id, i) => [id, [100 * (i + 1), 110 * (i + 1)]]));
  }
  results.rounds["throughput.w1"]!["airlock"] = [2000, 2200];
  results.rounds["throughput.w1"]!["piscina"] = [100, 100];
  const verdicts = evaluateTargets(results);
  const p50 = verdicts.find((v) => v.target.metric === "latency.p50")!;
  expect(p50.ratio).toBeCloseTo(2);
  expect(p50.verdict).toBe("MISS");
  expect(verdicts.find((v) => v.target.against === "piscina" && !v.target.info)!.verdict).toBe("PASS");
  const markdown = renderMarkdown(results);
  expect(markdown).toMatch(/\| airlock \| 210 \[200–220\] \| 2\.00× \|/);
  expect(markdown).toContain("MISS  airlock small-call p50");
  const svg = renderSvg(results);
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg).toContain("2.00×");
});
