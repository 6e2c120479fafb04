/** The service container: one instance of each service per process, sharing deps. */

import type { PaymentGateway } from "../payments/index.js";
import { CartService } from "./cart/cart.service.js";
import { CartPriceEvents } from "./cart/cart-price-events.js";
import { CartPricingService } from "./cart/cart-pricing.service.js";
import { CartRecoveryService } from "./cart/cart-recovery.service.js";
import { SavedItemsService } from "./cart/saved-items.service.js";
import { CatalogService } from "./catalog.service.js";
import { CheckoutService } from "./checkout/checkout.service.js";
import type { ServiceDeps } from "./deps.js";
import { DiscountService } from "./discount.service.js";
import { IdentityService } from "./identity.service.js";
import { CartLifecycleJob } from "./jobs/cart-lifecycle.job.js";
import { OrderQueries } from "./order/order-queries.service.js";
import { RedemptionService } from "./redemption.service.js";
import { SessionService } from "./session.service.js";
import { ShippingService } from "./shipping.service.js";
import { SignInService } from "./sign-in.service.js";
import { StoreService } from "./store.service.js";

export function createServices(deps: ServiceDeps, ports: { gateway: PaymentGateway }) {
  const carts = new CartService(deps);
  const cartPricing = new CartPricingService(deps);
  const identity = new IdentityService(deps);
  const redemptions = new RedemptionService(deps);
  const cartLifecycle = new CartLifecycleJob(
    deps.db,
    carts.cache,
    deps.logger,
    {
      abandonAfterSeconds: deps.config.CART_ABANDON_AFTER_SECONDS,
      guestExpireAfterSeconds: deps.config.GUEST_CART_EXPIRE_AFTER_SECONDS,
      expiredRetentionSeconds: deps.config.EXPIRED_CART_RETENTION_DAYS * 86_400,
    },
    deps.now,
  );
  return {
    deps,
    stores: new StoreService(deps),
    catalog: new CatalogService(deps),
    identity,
    sessions: new SessionService(deps),
    signIn: new SignInService(identity, carts),
    carts,
    cartPricing,
    cartPriceEvents: new CartPriceEvents(deps, carts),
    cartRecovery: new CartRecoveryService(deps, carts),
    shipping: new ShippingService(deps, carts, cartPricing),
    savedItems: new SavedItemsService(deps, carts),
    discounts: new DiscountService(deps, carts, cartPricing),
    redemptions,
    orders: new OrderQueries(deps),
    checkout: new CheckoutService(deps, { gateway: ports.gateway, carts, pricing: cartPricing, redemptions }),
    cartLifecycle,
  };
}

export type Services = ReturnType<typeof createServices>;
