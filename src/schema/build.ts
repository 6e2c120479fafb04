/** Builds the executable schema from the type-graphql classes. Also used to emit schema.graphql. */
import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { DateTimeResolver } from "graphql-scalars";
import { buildSchema, type PubSub } from "type-graphql";
import { resolvers } from "../resolvers/index.js";

export async function buildCartographSchema(pubSub?: PubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    // Inputs are validated by the services, which answer with userErrors rather than GraphQL errors.
    validate: false,
    pubSub,
  });
}
