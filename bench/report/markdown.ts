// bench/results.md: the tables of one run.
import { crashRetryLabel } from "../measure/crash-retry.js";
import { median } from "../measure/stats.js";
import type { MetricInfo, Results } from "../model.js";
import { payloadKey } from "../model.js";
import { formatRatio, formatSpread, formatValue } from "./format.js";
import { noiseWarnings } from "./noise.js";
import { contenderName, metricInfo, ratioOf, valueOf } from "./summary.js";
import { evaluateTargets, verdictLine } from "./targets.js";

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The contenders measured for a metric, in the results' order. */
function measured(results: Results, metrics: string[]): string[] {
  return results.contenders.map((c) => c.id).filter((id) => metrics.some((metric) => valueOf(results, metric, id)));
}

function cell(results: Results, metric: string, id: string): string {
  const info = metricInfo(results, metric)!;
  return formatSpread(valueOf(results, metric, id), info.unit);
}

function ratioCell(results: Results, metric: string, id: string): string {
  if (id === results.baseline) return "1×";
  const ratio = ratioOf(results, metric, id);
  return ratio ? formatRatio(ratio.median) : "–";
}

function cpuCell(results: Results, prefix: string, id: string): string {
  const parent = valueOf(results, `${prefix}.parent`, id);
  const workers = valueOf(results, `${prefix}.workers`, id);
  const total = valueOf(results, `${prefix}.total`, id);
  if (!parent || !workers || !total) return "–";
  const unit: MetricInfo["unit"] = "µs/call";
  return `${formatValue(parent.median, unit)} + ${formatValue(workers.median, unit)} = **${formatSpread(total, unit)}**`;
}

/** "runtime/ (3 files), bench/ (12 files)". */
function summarizeChanges(files: readonly string[]): string {
  const byFolder = new Map<string, number>();
  for (const file of files) {
    const folder = file.split("/")[0]!;
    byFolder.set(folder, (byFolder.get(folder) ?? 0) + 1);
  }
  return [...byFolder].map(([folder, n]) => `${folder}/ (${n} file${n === 1 ? "" : "s"})`).join(", ");
}

export function renderMarkdown(results: Results): string {
  const { environment: env, settings } = results;
  const out: string[] = [];
  const name = (id: string) => contenderName(results, id);
  const w = settings.throughput.workers;

  out.push("# airlock benchmarks", "");
  out.push(
    `${results.mode === "full" ? "Full" : "Quick"} run of \`npm run bench${results.mode === "quick" ? " -- --quick" : ""}\` on ${env.date.slice(0, 10)}, ` +
      `${results.durationS} s: Node ${env.node}, ${env.cpuModel} × ${env.cpus} CPUs, ${env.memoryGiB} GiB, ${env.os}; ` +
      (env.git === undefined ? "" : `airlock ${env.git ? `at ${env.git.commit}${env.git.changed.length ? ` with uncommitted changes to ${summarizeChanges(env.git.changed)}` : ""}` : "outside a git checkout"}; `) +
      `load average ${env.loadAverageAtStart} at the start, ${Object.entries(results.loadAverages).map(([phase, load]) => `${load} after ${phase}`).join(", ") || "–"}.`,
    "",
    ...(env.pinnedCpu !== null ? [`Pinned to CPU ${env.pinnedCpu} (\`--pin\`): the caller and every worker share one CPU, so no call waits for a sleeping CPU to wake.`, ""] : []),
    `Each figure is the median over rounds, then [min–max] over rounds, then the ratio to the raw socket ` +
      `(the median of the per-round ratios: the contenders take turns within each round). ` +
      `Every reply is checked byte for byte. Small calls carry ${settings.smallBytes} bytes.`,
    "",
  );

  const noise = noiseWarnings(results);
  if (noise.length) {
    out.push(
      `**Noisy run.** ${noise.join("; ").replace(/^./, (c) => c.toUpperCase())}. ` +
        `Absolute figures move with the machine's load (a round trip here costs mostly waking the other vCPU); ` +
        `compare the ratios, which are taken within rounds, and prefer a run on a quiet machine.`,
      "",
    );
  }

  out.push("## Contenders", "");
  out.push(
    table(
      ["contender", "version", "how the bytes travel"],
      results.contenders.map((c) => [c.name, c.version, c.notes]),
    ),
    "",
  );

  const latencyIds = measured(results, ["latency.p50"]);
  if (latencyIds.length) {
    const { rounds, measureMs } = settings.latency;
    out.push(`## Small calls, one in flight, one worker`, "");
    out.push(`After ${settings.warmUpCalls} warm-up calls (at most 5 s), ${rounds} rounds of ${measureMs / 1000} s of back-to-back calls each. CPU time: the caller's (\`process.cpuUsage()\`) + the workers' (utime + stime from \`/proc/<pid>/stat\`), per call.`, "");
    out.push(
      table(
        ["contender", "p50 µs", "× raw", "p99 µs", "× raw", "CPU µs/call: caller + workers = total", "× raw"],
        latencyIds.map((id) => [
          name(id),
          cell(results, "latency.p50", id),
          ratioCell(results, "latency.p50", id),
          cell(results, "latency.p99", id),
          ratioCell(results, "latency.p99", id),
          cpuCell(results, "latency.cpu", id),
          ratioCell(results, "latency.cpu.total", id),
        ]),
      ),
      "",
    );
  }

  const throughputIds = measured(results, w.map((n) => `throughput.w${n}`));
  if (throughputIds.length) {
    const { rounds, measureMs, inFlight } = settings.throughput;
    out.push(`## Throughput, ${inFlight} calls in flight`, "");
    out.push(
      `After ${3 * settings.warmUpCalls} warm-up calls (at most 5 s), ${rounds} rounds of ${measureMs / 1000} s each. Contenders with a per-worker concurrency setting get ${inFlight} ` +
        `(airlock's \`concurrency\`; piscina's \`concurrentTasksPerWorker\` only in its own row).`,
      "",
    );
    const header = ["contender"];
    for (const n of w) header.push(`${n} worker${n === 1 ? "" : "s"}: calls/s`, "× raw", "CPU µs/call", "× raw");
    out.push(
      table(
        header,
        throughputIds.map((id) => {
          const row = [name(id)];
          for (const n of w) {
            row.push(cell(results, `throughput.w${n}`, id), ratioCell(results, `throughput.w${n}`, id));
            row.push(cpuCell(results, `throughput.w${n}.cpu`, id), ratioCell(results, `throughput.w${n}.cpu.total`, id));
          }
          return row;
        }),
      ),
      "",
    );
  }

  const sizes = settings.payload.sizesMiB;
  const payloadKeys = (["argument", "result"] as const).flatMap((d) => sizes.map((s) => payloadKey(d, s)));
  const payloadIds = measured(results, payloadKeys);
  if (payloadIds.length) {
    const { rounds, callsPerRound, budgetMs } = settings.payload;
    out.push(`## Large payloads, one call at a time, one worker`, "");
    out.push(
      `Milliseconds for one call. Argument: the caller sends the bytes, the worker answers with their count. ` +
        `Result: the caller sends the size, the worker answers with that many bytes (made once and kept, so only the transport is timed). ` +
        `${rounds} rounds; per round ${sizes.map((s) => `${callsPerRound[s] ?? 1} × ${s} MiB`).join(", ")} (their median). ` +
        `A call over ${budgetMs / 1000} s ends that size (and larger ones) for that contender.`,
      "",
    );
    for (const direction of ["argument", "result"] as const) {
      out.push(
        table(
          ["contender", ...sizes.map((s) => `${s} MiB ${direction}, ms`), ...sizes.map((s) => `× raw, ${s} MiB`)],
          payloadIds.map((id) => [
            name(id),
            ...sizes.map((s) => cell(results, payloadKey(direction, s), id)),
            ...sizes.map((s) => ratioCell(results, payloadKey(direction, s), id)),
          ]),
        ),
        "",
      );
    }
  }

  if (results.crashRetry.length) {
    out.push(`## A crash, as airlock's caller sees it`, "");
    out.push(
      `A call whose first attempt dies (SIGSEGV in a worker process, process.exit in a worker thread) and whose retry replies, against a plain call; median of ${settings.crashRetry.rounds} of each ` +
        `(\`npm run bench:crash-retry\` measures the same).`,
      "",
    );
    out.push(
      table(
        ["pool", "plain call, ms", "crashed, then retried, ms", "extra, ms"],
        results.crashRetry.map((r) => {
          const plain = median(r.plainMs);
          const crashed = median(r.crashedMs);
          const extra = r.crashedMs.map((ms, i) => ms - r.plainMs[i]!);
          const unit: MetricInfo["unit"] = "ms";
          return [
            crashRetryLabel(r),
            formatValue(plain, unit),
            formatValue(crashed, unit),
            `**${formatValue(crashed - plain, unit)}** [${formatValue(Math.min(...extra), unit)}–${formatValue(Math.max(...extra), unit)}]`,
          ];
        }),
      ),
      "",
    );
  }

  const verdicts = evaluateTargets(results);
  out.push("## Targets", "", "```", ...verdicts.map(verdictLine), "```", "");

  if (results.failures.length || results.skipped.length) {
    out.push("## Failures and skipped measurements", "");
    for (const f of results.failures) out.push(`- ${name(f.contender)}, ${f.phase}${f.round >= 0 ? `, round ${f.round + 1}` : ""}: ${f.message}`);
    for (const s of results.skipped) out.push(`- ${name(s.contender)}, ${metricInfo(results, s.metric)?.label ?? s.metric}: skipped, ${s.reason}`);
    out.push("");
  }
  return out.join("\n");
}
