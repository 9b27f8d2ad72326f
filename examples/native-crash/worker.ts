// The worker of the native-crash example: binds libfragile and serves it. Its bugs (segfaults,
// stack smashing, leaks, spins) happen here, in a process the pool can afford to lose.
import * as path from "node:path";
import { serve } from "airlock";
import { FragileServiceDefinition } from "./gen/fragile/v1/fragile_airlock.js";

/** The exports of build/Release/fragile.node (native/binding.cc). */
interface Fragile {
  format(pattern: string, args: bigint[]): string;
  checksum(data: Uint8Array): number;
  unescape(text: string): string;
}

// Built by `npm run build:native` into the example's own folder; this file runs from dist/.
const addonPath = path.resolve(__dirname, "../../../examples/native-crash/build/Release/fragile.node");

function loadFragile(): Fragile {
  try {
    return require(addonPath) as Fragile;
  } catch (error) {
    throw new Error(`cannot load ${addonPath} (build it with \`npm run build:native\`): ${(error as Error).message}`);
  }
}

const fragile = loadFragile();

serve(FragileServiceDefinition, {
  format: (request) => ({ text: fragile.format(request.pattern, request.args) }),
  checksum: (request) => ({ checksum: fragile.checksum(request.data) }),
  unescape: (request) => ({ text: fragile.unescape(request.text) }),
});
