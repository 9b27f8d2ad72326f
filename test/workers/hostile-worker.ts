// A worker that turns hostile on request: an Echo whose text starts with "attack" makes it
// write the request's bytes to the control channel as they are, in place of an answer. In
// those bytes, 0xAAAAAAAA stands for the live call id and 0xBBBBBBBB for the worker's real
// result-arena generation, so that attacks also get past the first checks.
import { serve } from "airlock";
import { TestServiceDefinition } from "../gen/airlock/test/v1/test_airlock.js";
import { channelSocket, runningCallIds, substitute } from "../support/channel.js";

const channel = channelSocket();
const generation = Number((process.env.AIRLOCK_RESULT_ARENA ?? "0:0:0").split(":")[2]);

serve(TestServiceDefinition, {
  async echo(request) {
    if (!request.text.startsWith("attack")) return { text: request.text, data: request.data, pid: process.pid };
    // Once the handler has returned its promise, the call is among the running ones.
    await null;
    const id = runningCallIds().at(-1) ?? 0;
    channel.write(substitute(substitute(request.data, 0xaaaaaaaa, id), 0xbbbbbbbb, generation));
    return new Promise<never>(() => undefined);
  },
});
