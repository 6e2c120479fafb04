/**
 * Limits on the shape of an operation, checked before anything executes and on every transport:
 * - depth (fragments followed; introspection counted like any other field, except the `ofType` chain
 *   that only unwraps list/non-null types and is bounded by the schema);
 * - aliases per document (2,000 aliases of one expensive field are 2,000 executions of it);
 * - root fields per mutation (each root mutation field is a separate write: they are capped rather
 *   than letting one request do the work of hundreds);
 * - a complexity budget in which a list field costs its page size (`first`) times its children, or
 *   UNPAGED_LIST_SIZE times its children without one. Introspection (`__schema`, `__type`) is counted
 *   the same way but against a budget of its own, sized so that the playground's docs query (the
 *   standard introspection query) fits once and two copies of it do not; `__schema` may appear once.
 * Each limit is off when configured as 0.
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
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
  type ValueNode,
  visit,
} from "graphql";
import type * as QueryComplexity from "graphql-query-complexity";

// Required (CommonJS build) on purpose: the package's ESM build imports "graphql/index.mjs", a second
// copy of graphql beside the CommonJS one type-graphql builds the schema with, and every operation then
// failed with "Cannot use GraphQLObjectType from another module or realm".
const { getComplexity, simpleEstimator } = createRequire(import.meta.url)(
  "graphql-query-complexity",
) as typeof QueryComplexity;

export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxRootMutationFields: number;
  maxComplexity: number;
  maxIntrospectionComplexity: number;
}

/** The two costs of an operation: its own fields, and the introspection it asks for. */
export interface OperationCost {
  fields: number;
  introspection: number;
}

const INTROSPECTION_ROOTS = new Set(["__schema", "__type"]);

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  }
  return fragments;
}

/** Only unwraps NON_NULL/LIST around a type: as deep as the schema's wrapping, never a graph walk. */
const UNWRAPPING_FIELD = "ofType";

export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context.getDocument());
    const depthOf = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): number => {
      if (!set) return depth;
      let max = depth;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          const next = sel.name.value === UNWRAPPING_FIELD ? depth : depth + 1;
          max = Math.max(max, depthOf(sel.selectionSet, next, seen));
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

/** Counts every alias in the document (fragments included once each, where they are written). */
export function aliasLimitRule(maxAliases: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    let reported = false;
    return {
      Field(node) {
        if (!node.alias || reported) return;
        aliases++;
        if (aliases > maxAliases) {
          reported = true;
          context.reportError(
            new GraphQLError(`Too many aliases: a document may use at most ${maxAliases}`, {
              nodes: [node],
              extensions: { code: "TOO_MANY_ALIASES" },
            }),
          );
        }
      },
    };
  };
}

/** Root fields of a mutation, fragments followed: each one is a separate write. */
export function rootFieldCount(operation: OperationDefinitionNode, document: DocumentNode): number {
  const fragments = fragmentsOf(document);
  const count = (set: SelectionSetNode, seen: Set<string>): number => {
    let n = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) n += sel.name.value === "__typename" ? 0 : 1;
      else if (sel.kind === Kind.INLINE_FRAGMENT) n += count(sel.selectionSet, seen);
      else {
        const frag = fragments.get(sel.name.value);
        if (frag && !seen.has(sel.name.value))
          n += count(frag.selectionSet, new Set(seen).add(sel.name.value));
      }
    }
    return n;
  };
  return count(operation.selectionSet, new Set());
}

export function rootMutationFieldsRule(maxFields: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      if (node.operation !== "mutation") return;
      const fields = rootFieldCount(node, context.getDocument());
      if (fields > maxFields) {
        context.reportError(
          new GraphQLError(
            `Too many mutations in one request: ${fields} root fields, at most ${maxFields} allowed`,
            { nodes: [node], extensions: { code: "TOO_MANY_MUTATIONS" } },
          ),
        );
      }
    },
  });
}

/** One `__schema` per document: a second copy can only be an attempt to multiply the work. */
export const singleSchemaIntrospectionRule: ValidationRule = (context) => {
  let seen = 0;
  return {
    Field(node) {
      if (node.name.value !== "__schema") return;
      seen++;
      if (seen === 2) {
        context.reportError(
          new GraphQLError("A document may ask for __schema only once", {
            nodes: [node],
            extensions: { code: "QUERY_TOO_COMPLEX" },
          }),
        );
      }
    },
  };
};

export function limitRules(limits: OperationLimits): ValidationRule[] {
  const rules: ValidationRule[] = [singleSchemaIntrospectionRule];
  if (limits.maxDepth > 0) rules.push(depthLimitRule(limits.maxDepth));
  if (limits.maxAliases > 0) rules.push(aliasLimitRule(limits.maxAliases));
  if (limits.maxRootMutationFields > 0) rules.push(rootMutationFieldsRule(limits.maxRootMutationFields));
  return rules;
}

/**
 * A list field with `first: n` costs n times its children; a list without `first` costs
 * UNPAGED_LIST_SIZE times its children (introspection's lists included).
 */
export const UNPAGED_LIST_SIZE = 10;
const paginationEstimator: QueryComplexity.ComplexityEstimator = ({ args, childComplexity, field }) => {
  const first = typeof args.first === "number" ? Math.max(0, args.first) : undefined;
  if (first !== undefined) return 1 + childComplexity * Math.max(1, first);
  // A connection's `edges` are already counted by the connection's `first`.
  if (field.name !== "edges" && isListType(getNullableType(field.type))) {
    return 1 + childComplexity * UNPAGED_LIST_SIZE;
  }
  return undefined;
};

/** Leaves introspection roots out, so that what remains is the cost of the operation's own fields. */
const withoutIntrospection: QueryComplexity.ComplexityEstimator = ({ field }) =>
  INTROSPECTION_ROOTS.has(field.name) ? 0 : undefined;

/** What an operation whose variables do not coerce costs: nothing of it executes. */
const NOTHING_EXECUTES: OperationCost = Object.freeze({ fields: 0, introspection: 0 });

/**
 * Costs of one operation with its variables (a variable `first` counts at its real value); null when
 * the variables do not coerce (a float for an Int...): nothing will execute, and the transport reports
 * them as BAD_USER_INPUT. Thrown from here they would be masked as an internal error.
 */
function measuredComplexity(
  schema: GraphQLSchema,
  query: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown> | undefined,
): OperationCost | null {
  const measure = (estimators: QueryComplexity.ComplexityEstimator[]) =>
    getComplexity({ schema, query, operationName, variables: variables ?? {}, estimators });
  try {
    const total = measure([paginationEstimator, simpleEstimator({ defaultComplexity: 1 })]);
    const fields = measure([
      withoutIntrospection,
      paginationEstimator,
      simpleEstimator({ defaultComplexity: 1 }),
    ]);
    return { fields, introspection: total - fields };
  } catch (e) {
    if (e instanceof GraphQLError) return null;
    throw e;
  }
}

/** The first budget an operation's costs exceed, as the error to answer with; null when within both. */
export function complexityError(cost: OperationCost, limits: OperationLimits): GraphQLError | null {
  if (limits.maxComplexity > 0 && cost.fields > limits.maxComplexity) {
    return new GraphQLError(
      `Query is too complex: ${cost.fields} exceeds the limit of ${limits.maxComplexity}`,
      { extensions: { code: "QUERY_TOO_COMPLEX", http: { status: 400 } } },
    );
  }
  if (limits.maxIntrospectionComplexity > 0 && cost.introspection > limits.maxIntrospectionComplexity) {
    return new GraphQLError(
      `Introspection is too complex: ${cost.introspection} exceeds the limit of ${limits.maxIntrospectionComplexity}`,
      { extensions: { code: "QUERY_TOO_COMPLEX", http: { status: 400 } } },
    );
  }
  return null;
}

/**
 * Complexity per (document, operation, the variables its cost depends on), computed once: a client
 * sends the same few documents over and over, and Apollo hands us the same parsed DocumentNode for the
 * same text. A cost depends on variables in two places only: a `first` argument (paginationEstimator)
 * and a directive's arguments (`@include(if: $x)`, `@skip`); the key holds those variables' values and
 * nothing else, so cart lines, ids and addresses, different in every request, do not defeat the cache.
 */
export class ComplexityCache {
  private readonly byDocument = new WeakMap<DocumentNode, DocumentCosts>();
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly maxEntriesPerDocument = 64,
  ) {}

  get(
    document: DocumentNode,
    operationName: string | undefined,
    variables?: Record<string, unknown>,
  ): OperationCost {
    let costs = this.byDocument.get(document);
    if (!costs) {
      costs = { costVariables: costVariablesOf(document), byKey: new Map() };
      this.byDocument.set(document, costs);
    }
    const key = `${operationName ?? ""}|${keyOf(costs.costVariables, variables)}`;
    const hit = costs.byKey.get(key);
    if (hit !== undefined) return hit;
    const cost = measuredComplexity(this.schema, document, operationName, variables);
    // Variables that did not coerce measure nothing; other variables under the same key may.
    if (cost === null) return NOTHING_EXECUTES;
    if (costs.byKey.size >= this.maxEntriesPerDocument) costs.byKey.clear();
    costs.byKey.set(key, cost);
    return cost;
  }
}

interface DocumentCosts {
  /** Names of the variables the document's cost depends on (see ComplexityCache). */
  costVariables: readonly string[];
  byKey: Map<string, OperationCost>;
}

/** Variables used in a `first` argument or in a directive's arguments, anywhere in the document. */
function costVariablesOf(document: DocumentNode): string[] {
  const names = new Set<string>();
  const collect = (value: ValueNode) => {
    if (value.kind === Kind.VARIABLE) names.add(value.name.value);
    else if (value.kind === Kind.LIST) for (const v of value.values) collect(v);
    else if (value.kind === Kind.OBJECT) for (const f of value.fields) collect(f.value);
  };
  visit(document, {
    Field(node) {
      for (const arg of node.arguments ?? []) if (arg.name.value === "first") collect(arg.value);
    },
    Directive(node) {
      for (const arg of node.arguments ?? []) collect(arg.value);
    },
  });
  return [...names].sort();
}

/** The values of `names` (an absent variable, which takes the default, apart from one sent as null). */
function keyOf(names: readonly string[], variables: Record<string, unknown> | undefined): string {
  if (names.length === 0) return "";
  return JSON.stringify(
    names.map((name) => (variables && Object.hasOwn(variables, name) ? [variables[name]] : 0)),
  );
}
