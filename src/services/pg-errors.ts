/** Recognising PostgreSQL errors that services turn into userErrors (e.g. a unique key lost to a race). */

/** postgres.js reports SQLSTATE in `code`; drizzle wraps driver errors, keeping them as `cause`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const pg = e as Error & { code?: unknown; constraint_name?: unknown };
    if (pg.code === "23505" && pg.constraint_name === constraint) return true;
  }
  return false;
}
