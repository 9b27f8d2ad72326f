// An ES module worker that awaits before it serves: require() cannot load it, import() must.
import { serve } from "airlock";
import { setTimeout as sleep } from "node:timers/promises";
import testAirlock from "../gen/airlock/test/v1/test_airlock.js";

await sleep(10);

serve(testAirlock.TestServiceDefinition, {
  echo: (request) => ({ text: `esm ${request.text}`, pid: process.pid }),
});
