import { Ctx, Query, Resolver } from "type-graphql";
import { Store } from "../schema/store.types.js";
import type { GraphQLContext } from "./context.js";

@Resolver(() => Store)
export class StoreResolver {
  @Query(() => Store, { description: "The store this request is for (x-store header, else the default)." })
  store(@Ctx() ctx: GraphQLContext): Store {
    return Store.from(ctx.store);
  }
}
