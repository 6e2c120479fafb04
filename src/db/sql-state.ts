/** The SQLSTATE codes an error carries: postgres.js reports one in `code`, drizzle wraps it as `cause`. */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

/**
 * PostgreSQL ended the statement or transaction to break a conflict: a serialization failure (40001)
 * or a deadlock (40P01), with a transaction or, on a hot standby, with replay.
 */
export function isConflict(error: unknown): boolean {
  return errorCodes(error).some((code) => code === "40001" || code === "40P01");
}
