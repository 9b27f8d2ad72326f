// `npm run chaos [-- --calls N]`: the chaos check at full size, printing what it saw.
import { parseArgs } from "node:util";
import { runChaos } from "./chaos.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: "string", default: "10000" },
      workers: { type: "string", default: "2" },
      "crash-one-in": { type: "string", default: "40" },
      "kill-every-ms": { type: "string", default: "250" },
      "death-one-in": { type: "string", default: "200" },
      "blob-one-in": { type: "string", default: "4" },
      "helper-one-in": { type: "string", default: "50" },
      "in-flight": { type: "string", default: "8" },
    },
  });
  const options = {
    calls: Number(values.calls),
    workers: Number(values.workers),
    crashOneIn: Number(values["crash-one-in"]),
    killEveryMs: Number(values["kill-every-ms"]),
    deathOneIn: Number(values["death-one-in"]),
    blobOneIn: Number(values["blob-one-in"]),
    helperOneIn: Number(values["helper-one-in"]),
    inFlight: Number(values["in-flight"]),
    hangAfterMs: 30_000,
  };
  console.log(
    `chaos: ${options.calls} calls through ${options.workers} workers; native code segfaults on 1 call in ${options.crashOneIn}; ` +
      `1 attempt in ${options.deathOneIn} dies another way (SIGSTOP, abort, exit, native hang, memory blow-up, helper process + segfault); ` +
      `1 call in ${options.blobOneIn} carries a blob, 1 in ${options.helperOneIn} leaves a helper process; ` +
      `a worker is SIGKILLed from outside every ${options.killEveryMs} ms`,
  );
  const live = process.stdout.isTTY;
  let lastLine = 0;
  const report = await runChaos(options, (done, line) => {
    const now = performance.now();
    if (done !== options.calls && now - lastLine < (live ? 100 : 2000)) return;
    lastLine = now;
    const text = `${done}/${options.calls} calls: ${line()}`;
    if (live) process.stdout.write(`\r${text}\x1b[K`);
    else console.log(text);
  });
  if (live) process.stdout.write("\n");
  const failed = Object.entries(report.failedByCode).map(([code, n]) => `${code} ${n}`).join(", ") || "none";
  console.log(`calls:               ${report.calls}`);
  console.log(`correct results:     ${report.correct}`);
  console.log(`wrong results:       ${report.wrong}`);
  console.log(`failed calls:        ${failed}`);
  for (const failure of report.failures) console.log(`  ${failure}`);
  console.log(`hung calls:          ${report.hung}`);
  console.log(`worker crashes:      ${report.crashes} (${report.killedFromOutside} SIGKILLs from outside)`);
  console.log(`restarts:            ${report.restarts}`);
  console.log(`retries:             ${report.retries}`);
  console.log(`wall time:           ${(report.wallMs / 1000).toFixed(1)} s`);
  console.log(`leaked leases:       ${report.leakedLeaseBytes} bytes`);
  console.log(`leaked processes:    ${report.leakedProcesses} (workers and what they started)`);
  console.log(`leaked fds:          ${report.leakedFds}`);
  const ok = report.correct === report.calls && report.hung === 0 && report.leakedLeaseBytes === 0 && report.leakedProcesses === 0 && report.leakedFds === 0;
  console.log(ok ? "chaos check passed" : "chaos check FAILED");
  process.exitCode = ok ? 0 : 1;
}

void main();
