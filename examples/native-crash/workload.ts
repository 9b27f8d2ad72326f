// The calls the native-crash example makes: mostly good inputs, with every 250th call one of
// the inputs that trip libfragile's bugs. Each job knows the answer a correct library gives, or
// the error the caller must get instead.
import { AirlockError, Code } from "airlock";
import type { FragileServiceClient } from "./gen/fragile/v1/fragile_airlock.js";
import { crashCauses } from "../support/errors.js";

/** What one call sends, and what must come back. */
export interface Job {
  /** A short name of the kind of input, for the report. */
  readonly kind: string;
  /** True for an input that trips a bug of the library. */
  readonly bad: boolean;
  /** Makes the call and returns its answer. */
  run(client: FragileServiceClient): Promise<string | number>;
  /** Tells whether the call's outcome (an answer, or an error) is the one expected. */
  check(outcome: { answer: string | number } | { error: unknown }): boolean;
}

/** Bad inputs come at this interval, the kinds in turn: 1 call in 250 trips a bug. */
export const badEvery = 250;

/** The job of call number `index`: deterministic, so that runs can be compared. */
export function jobFor(index: number): Job {
  if (index % badEvery === badEvery / 2) {
    const make = badJobs[Math.floor(index / badEvery) % badJobs.length]!;
    return make(index);
  }
  return goodJobs[index % goodJobs.length]!(index);
}

const patterns = ["order %d: %x items", "%d%% done", "id=%x retries=%d left=%d"];

const goodJobs: ((index: number) => Job)[] = [
  (index) => {
    const pattern = patterns[index % patterns.length]!;
    const args = [BigInt(index), BigInt(index * 7919), BigInt(-index)];
    return answers("format", render(pattern, args), (client) => client.format({ pattern, args }).then((reply) => reply.text));
  },
  (index) => {
    const data = bytes(index, 256 + (index % 3840));
    return answers("checksum", fnv1a(data), (client) => client.checksum({ data }).then((reply) => reply.checksum));
  },
  (index) => {
    const text = `line ${index}\\tcolumn ${index % 80}\\n\\\\done`;
    return answers("unescape", unescape(text), (client) => client.unescape({ text }).then((reply) => reply.text));
  },
];

const badJobs: ((index: number) => Job)[] = [
  // %s with an integer: the library reads a string at address 0..4095, which is never mapped.
  (index) => {
    const request = { pattern: "user %s logged in", args: [BigInt(index % 4096)] };
    return fails("format %s with an int", Code.PoisonPill, "SIGSEGV", (client) => client.format(request).then((reply) => reply.text));
  },
  // A trailing backslash: the unescaper never advances; the pool kills it at 250 ms, twice.
  (index) => {
    const request = { text: `C:\\temp\\${index}\\` };
    return fails("unescape trailing \\", Code.PoisonPill, "hung", (client) => client.unescape(request).then((reply) => reply.text));
  },
  // 40 numbers render to about 400 bytes, past the 256-byte stack buffer: the stack protector aborts.
  (index) => {
    const request = { pattern: "%d,".repeat(40), args: Array.from({ length: 40 }, (_, i) => BigInt(index) * 1_000_000_007n + BigInt(i)) };
    return fails("format too long", Code.PoisonPill, "SIGABRT", (client) => client.format(request).then((reply) => reply.text));
  },
];

function answers(kind: string, expected: string | number, run: Job["run"]): Job {
  return { kind, bad: false, run, check: (outcome) => "answer" in outcome && outcome.answer === expected };
}

// A bad input must fail with `code`, and every crashed attempt must have ended by `cause`.
function fails(kind: string, code: Code, cause: string, run: Job["run"]): Job {
  return {
    kind,
    bad: true,
    run,
    check(outcome) {
      if (!("error" in outcome) || !(outcome.error instanceof AirlockError) || outcome.error.code !== code) return false;
      const causes = crashCauses(outcome.error);
      return causes.length > 0 && causes.every((each) => each === cause);
    },
  };
}

/** What a correct printf gives for %d, %x and %%. */
export function render(pattern: string, args: readonly bigint[]): string {
  let next = 0;
  return pattern.replace(/%([dx%])/g, (_, conversion: string) => {
    if (conversion === "%") return "%";
    const value = args[next++] ?? 0n;
    return conversion === "d" ? value.toString() : BigInt.asUintN(64, value).toString(16);
  });
}

/** FNV-1a over the bytes, as libfragile computes it. */
export function fnv1a(data: Uint8Array): number {
  let hash = 2166136261;
  for (const byte of data) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
  return hash;
}

/** What a correct unescaper gives for \n, \t and \\. */
export function unescape(text: string): string {
  return text.replace(/\\(.)/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped === "t" ? "\t" : escaped));
}

// Deterministic noise, so that a run can be repeated exactly.
function bytes(seed: number, length: number): Uint8Array {
  const data = new Uint8Array(length);
  let state = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state >>> 24;
  }
  return data;
}
