/**
 * Guards against oversized queries: a depth limit (fragments followed) and a complexity budget in which
 * a list field's cost is multiplied by its `first` argument. Depth is a validation rule; complexity is
 * checked once the operation and its variables are known. Either way a rejected query never executes.
 */
import { createRequire } from "node:module";
import {
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  getNullableType,
  isListType,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import type * as QueryComplexity from "graphql-query-complexity";

// Required (CommonJS build) on purpose: the package's ESM build imports "graphql/index.mjs", a second
// copy of graphql beside the CommonJS one type-graphql builds the schema with, and every operation then
// failed with "Cannot use GraphQLObjectType from another module or realm".
const { getComplexity, simpleEstimator } = createRequire(import.meta.url)(
  "graphql-query-complexity",
) as typeof QueryComplexity;

export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    }
    const depthOf = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): number => {
      if (!set) return depth;
      let max = depth;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          // Introspection fields are bounded by the schema; the playground's docs query is deep.
          if (sel.name.value.startsWith("__")) continue;
          max = Math.max(max, depthOf(sel.selectionSet, depth + 1, seen));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(sel.selectionSet, depth, seen));
        } else {
          const name = sel.name.value;
          const frag = fragments.get(name);
          if (frag && !seen.has(name))
            max = Math.max(max, depthOf(frag.selectionSet, depth, new Set(seen).add(name)));
        }
        if (max > maxDepth) return max;
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, 0, new Set());
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`Query is too deep: depth ${depth} exceeds the limit of ${maxDepth}`, {
              nodes: [node],
              extensions: { code: "QUERY_TOO_DEEP" },
            }),
          );
        }
      },
    };
  };
}

/**
 * A list field with `first: n` costs n times its children; a list without `first` costs
 * UNPAGED_LIST_SIZE times its children.
 */
export const UNPAGED_LIST_SIZE = 10;
const paginationEstimator: QueryComplexity.ComplexityEstimator = ({ args, childComplexity, field }) => {
  // Introspection (__schema, __type) is bounded by the schema, and the playground's docs need it whole.
  if (field.name.startsWith("__")) return 1;
  const first = typeof args.first === "number" ? Math.max(0, args.first) : undefined;
  if (first !== undefined) return 1 + childComplexity * Math.max(1, first);
  // A list with no page size (a product's variants, a cart's lines) is assumed to hold this many items.
  // A connection's `edges` are already counted by the connection's `first`.
  if (field.name !== "edges" && isListType(getNullableType(field.type))) {
    return 1 + childComplexity * UNPAGED_LIST_SIZE;
  }
  return undefined;
};

/** Complexity of one operation with its variables; a variable `first` counts at its real value. */
export function operationComplexity(
  schema: GraphQLSchema,
  query: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown> | undefined,
): number {
  try {
    return getComplexity({
      schema,
      query,
      operationName,
      variables: variables ?? {},
      estimators: [paginationEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (e) {
    // Variables that do not coerce (a float for an Int...): nothing will execute, and Apollo reports
    // them as BAD_USER_INPUT. Thrown from here they would be masked as an internal error.
    if (e instanceof GraphQLError) return 0;
    throw e;
  }
}
