/** Builds the executable schema from the type-graphql classes. Also used to emit schema.graphql. */
import "reflect-metadata";
import type { GraphQLSchema, OperationTypeNode } from "graphql";
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

/** type-graphql has no place for the root types' descriptions: they are set on the built schema. */
const ROOT_DESCRIPTIONS = {
  query:
    "Reads. Send `x-store` to pick the store and `authorization: Bearer <token>` to read as a guest session, " +
    "customer or staff member; each field says who may call it.",
  mutation:
    "Writes. Each answers with a payload whose `userErrors` is empty on success; the codes each can return " +
    "end its description.",
  subscription:
    "Live events over WebSocket (graphql-ws protocol, at /graphql), authenticated by connectionParams " +
    "`{ store, authorization }`.",
};

export async function buildCartographSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    // Inputs are validated by the services, which answer with userErrors rather than GraphQL errors.
    validate: false,
    pubSub: unusedTopicPubSub,
  });
  for (const [root, description] of Object.entries(ROOT_DESCRIPTIONS)) {
    const type = schema.getRootType(root as OperationTypeNode);
    if (type) type.description = description;
  }
  return schema;
}
