// The differential codec test at size: `npm run fuzz:codec -- [messages] [seed]`, or
// CODEC_FUZZ_MESSAGES, CODEC_FUZZ_SEED and CODEC_FUZZ_SWEEPS (messages per schema encoded at
// every offset across the slab's end). Prints its figures and the first failures; exits 1 on any.
import { runDifferential, type DifferentialReport } from "./support/codec-differential.js";
import { loadCodecProtos } from "./support/codec-protos.js";
import { schemas as testSchemas } from "./support/random-messages.js";

const messages = Number(process.argv[2] ?? process.env.CODEC_FUZZ_MESSAGES ?? 1_000_000);
const seed = Number(process.argv[3] ?? process.env.CODEC_FUZZ_SEED ?? Date.now() % 1_000_000);
const sweeps = Number(process.env.CODEC_FUZZ_SWEEPS ?? 8);

const protos = loadCodecProtos();
if (typeof protos === "string") {
  console.error(`fuzz:codec: ${protos}`);
  process.exit(2);
}
const started = process.hrtime.bigint();
const figures = (report: DifferentialReport) =>
  `${report.messages} messages (${report.refused} refused by toBinary, ${(report.bytes / 2 ** 20).toFixed(1)} MiB encoded) of ${report.schemas} schemas; ` +
  `${report.encodings} encodings (${report.sweptOffsets} at swept slab offsets), ${report.decodings} decodings; ${report.failureCount} failures; ` +
  `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(0)} s`;
console.log(`fuzz:codec seed ${seed}: ${messages} messages, ${sweeps} sweeps per schema`);
const report = runDifferential({
  schemas: [...protos.schemas, ...testSchemas],
  registry: protos.registry,
  flipped: protos.flipped,
  messages,
  sweeps,
  seed,
  progress: (sofar) => console.log(figures(sofar)),
});
console.log(`seed ${seed}: ${figures(report)}`);
for (const failure of report.failures) console.log(`FAIL ${failure}`);
process.exit(report.failureCount > 0 ? 1 : 0);
