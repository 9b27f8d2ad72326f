// The piscina peer's task: runs in a worker thread; arguments and results are structured clones.
import { pattern } from "./work.js";

type Task = { readonly op: "echo"; readonly data: Uint8Array } | { readonly op: "sink"; readonly data: Uint8Array } | { readonly op: "fill"; readonly size: number };

export default function run(task: Task): Uint8Array | number {
  if (task.op === "echo") return task.data;
  if (task.op === "sink") return task.data.length;
  return pattern(task.size);
}
