// The test worker, except that it refuses to start while a marker file exists: a way to make
// replacement workers fail at start-up in a pool that started fine.
import { existsSync } from "node:fs";

const marker = process.env.AIRLOCK_TEST_FAIL_MARKER;
if (marker && existsSync(marker)) throw new Error(`refusing to start: ${marker} exists`);
require("./test-worker.js");
