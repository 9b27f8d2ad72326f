// A worker that serves PresenceService only once asked to, well after it reported ready: a
// method the parent has already called (and so numbered) must then reach its new handler.
import { serve } from "airlock";
import { PresenceServiceDefinition } from "../gen/airlock/test/v1/presence_airlock.js";
import { TestServiceDefinition } from "../gen/airlock/test/v1/test_airlock.js";

serve(TestServiceDefinition, {
  echo(request) {
    if (request.text === "serve presence") {
      serve(PresenceServiceDefinition, { inspect: (inspected) => ({ greeting: `late ${inspected.greeting}` }) });
    }
    return { text: request.text };
  },
});
