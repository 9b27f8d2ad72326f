// Which calls of the flaky function crash: shared by the worker, which crashes, and by the
// example's checks, which know what each configuration must make of it.

/** The input that crashes its worker on every attempt: a poison pill. */
export const poisonInput = 13;

/** True for inputs that crash on their first attempt only, as a race or a bad moment would. */
export function isTransient(input: number): boolean {
  return input % 5 === 0;
}

/** Whether the call for `input` crashes on attempt number `attempt` (1-based). */
export function crashesOn(input: number, attempt: number): boolean {
  return input === poisonInput || (isTransient(input) && attempt === 1);
}
