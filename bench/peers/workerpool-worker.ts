// The workerpool peer's worker script (process mode: JSON over Node IPC, bytes as base64).
import * as workerpool from "workerpool";
import { pattern } from "./work.js";

workerpool.worker({
  echo: (data: string) => Buffer.from(data, "base64").toString("base64"),
  sink: (data: string) => Buffer.from(data, "base64").length,
  fill: (size: number) => pattern(size).toString("base64"),
});
