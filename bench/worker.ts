// The benchmarks' worker: BenchService, its crashes coming from the crash-prone native fixture.
import * as path from "node:path";
import { serve } from "airlock";
import { BenchServiceDefinition } from "./gen/airlock/bench/v1/bench_airlock.js";
import { pattern } from "./peers/work.js";

const crashy = require(path.resolve(__dirname, "../../test/fixtures/crashy/build/Release/crashy.node")) as {
  compute(input: number, crashOneIn: number): number;
  segfault(): never;
};

serve(BenchServiceDefinition, {
  echo: (request) => ({ data: request.data }),
  sink: (request) => ({ size: request.data.length }),
  fill: (request) => ({ data: pattern(request.size) }),
  compute: (request) => ({ checksum: crashy.compute(request.input, request.crashOneIn) }),
  crashOnce: (request, context) => {
    if (context.attempt > 1) return { attempt: context.attempt };
    return request.exit ? process.exit(3) : crashy.segfault();
  },
});
