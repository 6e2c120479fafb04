/** Every resolver class of the schema. Add new ones here. */
import type { NonEmptyArray } from "type-graphql";
import { StoreResolver } from "./store.resolver.js";

// biome-ignore lint/complexity/noBannedTypes: type-graphql takes resolver classes as Function
export const resolvers: NonEmptyArray<Function> = [StoreResolver];
