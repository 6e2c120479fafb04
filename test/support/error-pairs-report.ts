/**
 * Global teardown's half of the error-code check (error-recorder.ts records): every (mutation, code)
 * the run saw must be declared in src/schema/mutation-errors.ts, else the run fails, naming the pairs.
 * Declared pairs the run never exercised are counted, not failed on (ERROR_PAIRS_VERBOSE=1 lists them).
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { MUTATION_ERRORS, mutationErrors } from "../../src/schema/mutation-errors.js";
import type { ErrorChannel, ErrorPair } from "./error-recorder.js";

/** The masked unexpected failure: possible on any field, and provoked on purpose by the fault tests. */
const ANYWHERE = new Set(["INTERNAL_SERVER_ERROR"]);

export interface ErrorPairsSummary {
  seen: ErrorPair[];
  undeclared: ErrorPair[];
  declared: ErrorPair[];
  unexercised: ErrorPair[];
}

function declaredPairs(): ErrorPair[] {
  return Object.entries(MUTATION_ERRORS).flatMap(([mutation, entry]) => [
    ...entry.userErrors.map((code) => ({ mutation, code, channel: "userErrors" as ErrorChannel })),
    ...entry.errors.map((code) => ({ mutation, code, channel: "errors" as ErrorChannel })),
  ]);
}

const idOf = (p: ErrorPair) => `${p.mutation}|${p.code}|${p.channel}`;

export async function summarizeErrorPairs(dir: string): Promise<ErrorPairsSummary> {
  const seen = new Map<string, ErrorPair>();
  for (const name of await readdir(dir)) {
    const text = await readFile(path.join(dir, name), "utf8");
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const pair = JSON.parse(line) as ErrorPair;
      seen.set(idOf(pair), pair);
    }
  }
  const undeclared = [...seen.values()].filter((p) => {
    if (ANYWHERE.has(p.code)) return false;
    const entry = mutationErrors(p.mutation);
    const listed: readonly string[] = entry ? entry[p.channel] : [];
    return !listed.includes(p.code);
  });
  const declared = declaredPairs();
  const unexercised = declared.filter((p) => !seen.has(idOf(p)));
  return { seen: [...seen.values()], undeclared, declared, unexercised };
}

const show = (p: ErrorPair) => `  ${p.mutation}: ${p.code} (${p.channel})`;

/** Prints the summary; sets a failing exit code when a mutation answered with an undeclared code. */
export async function reportErrorPairs(dir: string): Promise<void> {
  const summary = await summarizeErrorPairs(dir);
  if (summary.seen.length === 0) return;
  const exercised = summary.declared.length - summary.unexercised.length;
  console.log(
    `\nmutation error codes: ${exercised} of ${summary.declared.length} declared (mutation, code) pairs ` +
      `exercised, ${summary.unexercised.length} never (src/schema/mutation-errors.ts)`,
  );
  if (process.env.ERROR_PAIRS_VERBOSE) console.log(summary.unexercised.map(show).join("\n"));
  if (summary.undeclared.length) {
    console.error(
      `\nmutations answered with error codes src/schema/mutation-errors.ts does not declare ` +
        `(declare them there, or fix the mutation):\n${summary.undeclared.map(show).join("\n")}\n`,
    );
    process.exitCode = 1;
  }
}
