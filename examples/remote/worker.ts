// The remote example's worker: the same module for a local pool and for `airlock serve`.
import { createHash } from "node:crypto";
import { serve } from "airlock";
import { DigestServiceDefinition } from "./gen/digest/v1/digest_airlock.js";

serve(DigestServiceDefinition, {
  sha256: (request) => ({ hex: createHash("sha256").update(request.data).digest("hex"), pid: process.pid }),
  crash: () => {
    // A real signal death, as a segfault in native code would be.
    process.kill(process.pid, "SIGSEGV");
    return new Promise<never>(() => undefined);
  },
});
