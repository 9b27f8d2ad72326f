// The worker of the retry-policy example: a pure-JavaScript stand-in for a flaky native
// function. It crashes the way native code does, by a signal, so the pool sees a real SIGSEGV.
import { serve } from "airlock";
import { FlakyServiceDefinition } from "./gen/flaky/v1/flaky_airlock.js";
import { crashesOn } from "./flakiness.js";

serve(FlakyServiceDefinition, {
  square(request, context) {
    if (crashesOn(request.input, context.attempt)) process.kill(process.pid, "SIGSEGV");
    return { square: request.input * request.input, attempt: context.attempt };
  },
});
