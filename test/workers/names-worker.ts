// Serves NamesService (test/proto/airlock/test/v1/names.proto): each handler says its own name,
// so that a call that reached the wrong one, or none, shows.
import { serve } from "airlock";
import { NamesServiceDefinition } from "../gen/airlock/test/v1/names_airlock.js";

serve(NamesServiceDefinition, {
  then$: (request) => ({ handler: "then$", text: request.text }),
  __proto__$: (request) => ({ handler: "__proto__$", text: request.text }),
  constructor$: (request) => ({ handler: "constructor$", text: request.text }),
  toString$: (request) => ({ handler: "toString$", text: request.text }),
  hasOwnProperty$: (request) => ({ handler: "hasOwnProperty$", text: request.text }),
  echo: (request) => ({ handler: "echo", text: request.text }),
});
