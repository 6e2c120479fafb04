/** Builds the executable schema from the type-graphql classes. Also used to emit schema.graphql. */
import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { DateTimeResolver } from "graphql-scalars";
import { buildSchema, type PubSub } from "type-graphql";
import { resolvers } from "../resolvers/index.js";

/**
 * Our subscriptions each bring their own `subscribe` (they read the outbox events through the services),
 * so type-graphql's topic-based PubSub is never used; it still insists on one being configured.
 */
const unusedTopicPubSub: PubSub = {
  publish() {
    throw new Error("type-graphql topic pub/sub is not used: subscriptions define `subscribe`");
  },
  subscribe() {
    throw new Error("type-graphql topic pub/sub is not used: subscriptions define `subscribe`");
  },
};

export async function buildCartographSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    // Inputs are validated by the services, which answer with userErrors rather than GraphQL errors.
    validate: false,
    pubSub: unusedTopicPubSub,
  });
}
