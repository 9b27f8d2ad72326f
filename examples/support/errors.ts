// How the examples describe the errors their callers get.
import { AirlockError } from "airlock";

/** How a worker ended, in one word: "SIGSEGV", "exit 3", or "hung" when the pool killed it at the attempt timeout. */
export function causeOf(end: { readonly reason: string; readonly signal: string | null; readonly exitCode: number | null }): string {
  // The pool's own reason for a kill comes in parentheses: "killed by SIGKILL (hung: ...)".
  if (end.reason.includes("(hung:")) return "hung";
  return end.signal ?? `exit ${end.exitCode}`;
}

/** How each crashed attempt of a failed call ended (see causeOf); empty for errors that were not crashes. */
export function crashCauses(error: AirlockError): string[] {
  return (error.details.crashes ?? []).map(causeOf);
}

/** One short line about a failed call: "POISON_PILL (SIGSEGV x3)", "CIRCUIT_OPEN". */
export function describeError(error: unknown): string {
  if (!(error instanceof AirlockError)) return `not an AirlockError: ${String(error)}`;
  const counts = new Map<string, number>();
  for (const cause of crashCauses(error)) counts.set(cause, (counts.get(cause) ?? 0) + 1);
  const causes = [...counts].map(([cause, n]) => (n > 1 ? `${cause} x${n}` : cause)).join(", ");
  return causes ? `${error.code} (${causes})` : error.code;
}
