/** The SQLSTATE codes an error carries: postgres.js reports one in `code`, drizzle wraps it as `cause`. */
export function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}
