import { Field, ID, ObjectType } from "type-graphql";
import type { StoreRef } from "../services/context.js";

@ObjectType({ description: "A shop: its own catalog, customers, carts and orders." })
export class Store {
  @Field(() => ID)
  id: string;

  @Field(() => String, { description: "What clients send in the x-store header." })
  handle: string;

  @Field(() => String)
  name: string;

  @Field(() => String, { description: "ISO 4217 code every price of the store is in." })
  currencyCode: string;

  static from(s: StoreRef): Store {
    return Object.assign(new Store(), { id: s.id, handle: s.handle, name: s.name, currencyCode: s.currency });
  }
}
