/**
 * The one rule for which requests may read from the read replica.
 *
 * Only queries by anonymous callers and shoppers: their catalog reads (products, search, a product or
 * variant, the DataLoader batches of products and variants, the shipping method list) tolerate data a
 * moment old. Staff read their own writes (a price update, then a read), so they always read the
 * primary; so does every read inside a mutation (the reply must show what was just written) and every
 * subscription. Carts never read from the replica at all: the services send only catalog reads
 * through `deps.reads`, and the replica is only used while its lag is within DATABASE_READ_MAX_LAG_MS.
 */
import { OperationTypeNode } from "graphql";
import type { ReadTarget } from "../db/read-executor.js";
import type { GraphQLContext } from "../resolvers/context.js";
import { createLoaders } from "../resolvers/loaders.js";
import { type Caller, isStaff } from "../services/context.js";

export function readTargetFor(operation: OperationTypeNode, caller: Caller): ReadTarget {
  return operation === OperationTypeNode.QUERY && !isStaff(caller) ? "replica" : "primary";
}

/**
 * Applies the rule to a request once its operation is known (Apollo's didResolveOperation). The
 * loaders were built with the context before that, bound to the default (primary): a request that may
 * use the replica gets fresh ones bound to the routed context. Nothing has loaded through them yet.
 */
export function routeReads(ctx: GraphQLContext, operation: OperationTypeNode): void {
  const target = readTargetFor(operation, ctx.caller);
  if (target === (ctx.reads ?? "primary")) return;
  ctx.reads = target;
  ctx.loaders = createLoaders(ctx.services, ctx);
}
