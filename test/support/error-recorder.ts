/**
 * Test-only: records which error codes mutations answered with, so the run can prove that no mutation
 * returns a code src/schema/mutation-errors.ts does not declare (checked at global teardown, see
 * error-pairs-report.ts). The test clients (test-app.ts, server-process.ts, ws-client.ts) hand every
 * response here. Cheap on purpose: a document without the word "mutation" is skipped unparsed, parsed
 * documents are cached, and each (mutation, code, channel) is written once per test file, as one line
 * appended to this worker's file in the directory global setup provides.
 */
import { appendFileSync } from "node:fs";
import path from "node:path";
import { type DocumentNode, Kind, parse, type SelectionSetNode } from "graphql";
import { inject } from "vitest";

export type ErrorChannel = "userErrors" | "errors";

export interface ErrorPair {
  mutation: string;
  code: string;
  channel: ErrorChannel;
}

export interface RecordableResponse {
  data?: unknown;
  errors?: readonly { path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[];
}

const written = new Set<string>();
/** Response key -> mutation field name of each mutation document seen; null: not a single mutation. */
const documents = new Map<string, Map<string, string> | null>();
let target: string | null | undefined;

function pairsFile(): string | null {
  if (target === undefined) {
    let dir: string | undefined;
    try {
      dir = inject("errorPairsDir");
    } catch {
      dir = undefined;
    }
    target = dir ? path.join(dir, `${process.pid}.jsonl`) : null;
  }
  return target;
}

/** The root fields of the document's one mutation, by response key (aliases and fragments followed). */
function mutationFields(query: string): Map<string, string> | null {
  const cached = documents.get(query);
  if (cached !== undefined) return cached;
  let fields: Map<string, string> | null = null;
  try {
    const document = parse(query);
    const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const [operation] = operations;
    if (operations.length === 1 && operation?.operation === "mutation") {
      fields = new Map();
      collect(document, operation.selectionSet, fields, new Set());
    }
  } catch {
    fields = null; // Not a document the server could run: nothing to attribute.
  }
  documents.set(query, fields);
  return fields;
}

function collect(
  document: DocumentNode,
  set: SelectionSetNode,
  into: Map<string, string>,
  seen: Set<string>,
): void {
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== "__typename") {
        into.set(selection.alias?.value ?? selection.name.value, selection.name.value);
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collect(document, selection.selectionSet, into, seen);
    } else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) collect(document, fragment.selectionSet, into, seen);
    }
  }
}

/** The (mutation, code, channel) pairs of one response to `query`. */
export function errorPairsOf(query: string, response: RecordableResponse): ErrorPair[] {
  if (!query.includes("mutation")) return [];
  const fields = mutationFields(query);
  if (!fields) return [];
  const pairs: ErrorPair[] = [];
  const data = (response.data ?? null) as Record<string, unknown> | null;
  for (const [key, mutation] of fields) {
    const payload = data?.[key] as { userErrors?: unknown } | null | undefined;
    if (Array.isArray(payload?.userErrors)) {
      for (const e of payload.userErrors as { code?: unknown }[]) {
        if (typeof e?.code === "string") pairs.push({ mutation, code: e.code, channel: "userErrors" });
      }
    }
  }
  for (const e of response.errors ?? []) {
    // Only errors of the mutation field itself: request-level errors have no path, nested ones are a
    // child field's.
    const key = e.path?.length === 1 ? e.path[0] : undefined;
    const mutation = typeof key === "string" ? fields.get(key) : undefined;
    const code = e.extensions?.code;
    if (mutation && typeof code === "string") pairs.push({ mutation, code, channel: "errors" });
  }
  return pairs;
}

/** Records a response's pairs for the teardown check; a no-op outside a run with a pairs directory. */
export function recordErrorCodes(query: string, response: RecordableResponse): void {
  const pairs = errorPairsOf(query, response);
  if (pairs.length === 0) return;
  const file = pairsFile();
  if (!file) return;
  const fresh = pairs.filter((p) => {
    const id = `${p.mutation}|${p.code}|${p.channel}`;
    if (written.has(id)) return false;
    written.add(id);
    return true;
  });
  if (fresh.length) appendFileSync(file, fresh.map((p) => `${JSON.stringify(p)}\n`).join(""));
}
