/**
 * One check for every string a client sends, wherever it sits (an argument written in the document, a
 * variable, a field deep inside an input object or a JSON value): PostgreSQL cannot store a NUL
 * character in text or jsonb, and a lone UTF-16 surrogate cannot be encoded as UTF-8 at all, so either
 * would fail deep inside a statement. They are refused before anything executes, naming the field.
 * Services keep their own, tighter length rules; this is the outer bound for any single string.
 */
import {
  type DocumentNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type ValueNode,
  visit,
} from "graphql";

export const MAX_INPUT_STRING_LENGTH = 20_000;

export interface TextProblem {
  field: string[];
  reason: string;
}

function problemOf(text: string): string | null {
  if (text.length > MAX_INPUT_STRING_LENGTH) return `is longer than ${MAX_INPUT_STRING_LENGTH} characters`;
  if (text.includes("\u0000")) return "contains a NUL character (U+0000)";
  if (!text.isWellFormed()) return "contains an unpaired UTF-16 surrogate";
  return null;
}

function inValue(value: unknown, field: string[]): TextProblem | null {
  if (typeof value === "string") {
    const reason = problemOf(value);
    return reason ? { field, reason } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = inValue(value[i], [...field, String(i)]);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      const keyReason = problemOf(key);
      if (keyReason) return { field: [...field, key], reason: `has a key that ${keyReason}` };
      const found = inValue(inner, [...field, key]);
      if (found) return found;
    }
  }
  return null;
}

function inLiteral(node: ValueNode, field: string[]): TextProblem | null {
  switch (node.kind) {
    case Kind.STRING: {
      const reason = problemOf(node.value);
      return reason ? { field, reason } : null;
    }
    case Kind.LIST:
      for (let i = 0; i < node.values.length; i++) {
        const value = node.values[i];
        const found = value ? inLiteral(value, [...field, String(i)]) : null;
        if (found) return found;
      }
      return null;
    case Kind.OBJECT:
      for (const f of node.fields) {
        const found = inLiteral(f.value, [...field, f.name.value]);
        if (found) return found;
      }
      return null;
    default:
      return null;
  }
}

/**
 * The literal part of the check, once per parsed document: Apollo Server hands the same document
 * object back for the same query text, and a document never changes, so its literals need one visit
 * (on a products page the visit was 1.5 % of the server's CPU). Variables differ per request and are
 * checked every time.
 */
const literalProblems = new WeakMap<DocumentNode, TextProblem | null>();

function inLiterals(document: DocumentNode): TextProblem | null {
  const known = literalProblems.get(document);
  if (known !== undefined) return known;
  let found: TextProblem | null = null;
  // Literals anywhere in the document (fragments too): an argument is named by its own name, as the
  // services name the fields of their userErrors.
  visit(document, {
    Argument(node) {
      if (found) return false;
      found = inLiteral(node.value, [node.name.value]);
      return false;
    },
  });
  literalProblems.set(document, found);
  return found;
}

/** The first bad string among the operation's literal arguments and its variables, or null. */
export function findBadText(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown> | undefined,
): TextProblem | null {
  const literal = inLiterals(document);
  if (literal) return literal;
  const declared = operation.variableDefinitions;
  if (!declared?.length || !variables) return null;
  for (const definition of declared) {
    const name = definition.variable.name.value;
    if (!Object.hasOwn(variables, name)) continue;
    const problem = inValue(variables[name], [name]);
    if (problem) return problem;
  }
  return null;
}

export function badTextError(problem: TextProblem): GraphQLError {
  return new GraphQLError(`Input ${problem.field.join(".")} ${problem.reason}`, {
    extensions: { code: "INVALID_INPUT", field: problem.field, http: { status: 400 } },
  });
}
