/** Every resolver class of the schema. Add new ones here. */
import type { NonEmptyArray } from "type-graphql";
import { CartLineResolver, CartResolver, SavedItemResolver } from "./cart.resolver.js";
import { CartEventsResolver } from "./cart-events.resolver.js";
import { CatalogResolver } from "./catalog.resolver.js";
import { CheckoutResolver } from "./checkout.resolver.js";
import { DiscountResolver } from "./discount.resolver.js";
import { FeedResolver } from "./feed.resolver.js";
import { IdentityResolver } from "./identity.resolver.js";
import { MoneyResolver, UserErrorResolver } from "./money.resolver.js";
import { OrderResolver } from "./order.resolver.js";
import { OrderEventsResolver } from "./order-events.resolver.js";
import { ProductFieldsResolver, ProductVariantFieldsResolver } from "./product.resolver.js";
import { CartShippingResolver } from "./shipping.resolver.js";
import { StoreResolver } from "./store.resolver.js";

// biome-ignore lint/complexity/noBannedTypes: type-graphql takes resolver classes as Function
export const resolvers: NonEmptyArray<Function> = [
  StoreResolver,
  MoneyResolver,
  UserErrorResolver,
  CartResolver,
  CartLineResolver,
  CartShippingResolver,
  CartEventsResolver,
  SavedItemResolver,
  CatalogResolver,
  ProductFieldsResolver,
  ProductVariantFieldsResolver,
  IdentityResolver,
  DiscountResolver,
  CheckoutResolver,
  OrderResolver,
  OrderEventsResolver,
  FeedResolver,
];
