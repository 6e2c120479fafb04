/**
 * The payments layer's public face: the port, both gateways, and the factory start-up calls.
 */
import { type Config, ConfigError } from "../config.js";
import type { PaymentGateway } from "./gateway.js";
import { StripeGateway } from "./stripe.gateway.js";
import { TestGateway } from "./test.gateway.js";

export * from "./gateway.js";
export { MAX_PAYMENT_AMOUNT } from "./input.js";
export { StripeGateway, type StripeGatewayOptions } from "./stripe.gateway.js";
export {
  type GatewayCall,
  type GatewayMethod,
  TestGateway,
  type TestGatewayOptions,
} from "./test.gateway.js";
export { TEST_TOKENS, type TestToken } from "./test-tokens.js";
export { type SignedWebhook, signWebhookPayload, WEBHOOK_TOLERANCE_SECONDS } from "./webhook.js";

export type PaymentConfig = Pick<
  Config,
  | "NODE_ENV"
  | "STRIPE_SECRET_KEY"
  | "STRIPE_WEBHOOK_SECRET"
  | "STRIPE_API_BASE"
  | "STRIPE_TIMEOUT_MS"
  | "STRIPE_MAX_NETWORK_RETRIES"
>;

/**
 * Stripe when STRIPE_SECRET_KEY is set, else the offline TestGateway. Production without a key is
 * refused: the TestGateway would accept every order as paid.
 */
export function createPaymentGateway(config: PaymentConfig): PaymentGateway {
  if (config.STRIPE_SECRET_KEY) {
    if (!config.STRIPE_WEBHOOK_SECRET) {
      throw new ConfigError(["STRIPE_WEBHOOK_SECRET: required when STRIPE_SECRET_KEY is set"]);
    }
    return new StripeGateway({
      secretKey: config.STRIPE_SECRET_KEY,
      webhookSecret: config.STRIPE_WEBHOOK_SECRET,
      apiBase: config.STRIPE_API_BASE,
      timeoutMs: config.STRIPE_TIMEOUT_MS,
      maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
    });
  }
  if (config.NODE_ENV === "production") {
    throw new ConfigError([
      "STRIPE_SECRET_KEY: required when NODE_ENV=production (the test gateway accepts test cards)",
    ]);
  }
  return new TestGateway({ webhookSecret: config.STRIPE_WEBHOOK_SECRET });
}
