/**
 * A start-up failure the operator can fix, told in one line (what is wrong and what to do), with the
 * process exit code that says which kind it is. Anything else is unexpected and logged with its stack.
 */
export const EXIT_CODES = {
  /** A setting is wrong (EX_CONFIG): fix the environment. */
  config: 78,
  /** Something the server needs is not there or busy (EX_UNAVAILABLE): a port, the database. */
  unavailable: 69,
  /** Anything unexpected. */
  unexpected: 1,
} as const;

export type StartupProblem = keyof typeof EXIT_CODES;

export class StartupError extends Error {
  readonly exitCode: number;
  constructor(
    message: string,
    readonly problem: Exclude<StartupProblem, "unexpected">,
    /** A stable name for the failure in JSON logs, e.g. `DATABASE_MISSING`. */
    readonly code: string,
  ) {
    super(message);
    this.name = "StartupError";
    this.exitCode = EXIT_CODES[problem];
  }
}
