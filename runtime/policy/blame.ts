/** What a worker's death means for one call that was running on it. */
export type Blame =
  /** It is charged an attempt, with the crash facts. */
  | "culprit"
  /** It is retried at no charge: someone else, or something outside, brought the worker down. */
  | "bystander"
  /** It is retried at no charge, but alone from now on, until it succeeds or crashes alone. */
  | "suspect";

/** What the pool knows of a worker's death. */
export interface Death<Call> {
  /** The call whose hang or ignored cancellation made the pool kill the worker. */
  readonly killedFor: Call | undefined;
  /** The pool killed the worker for a reason none of its calls caused (it was idle and unresponsive). */
  readonly blameless: boolean;
  /** Calls running on it when it died. */
  readonly calls: number;
}

/**
 * The blame rule, one for both cages: the call the pool killed the worker for is the culprit;
 * with no such call, the only call on it is, and so is a suspect (which runs alone); the others
 * are bystanders, and suspects when no one can be blamed, so that blame ends up exact.
 */
export function blame<Call>(call: Call, suspect: boolean, death: Death<Call>): Blame {
  if (death.killedFor !== undefined) return death.killedFor === call ? "culprit" : "bystander";
  if (death.blameless) return "bystander";
  if (death.calls === 1 || suspect) return "culprit";
  return "suspect";
}
