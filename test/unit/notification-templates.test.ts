import { describe, expect, it } from "vitest";
import { renderTemplate, TemplateError } from "../../src/services/notifications/notification-templates.js";

const order = {
  storeName: "Demo",
  orderId: "o-1",
  orderNumber: "100042",
  currency: "JPY",
  total: 4800,
};

describe("notification templates", () => {
  it("render a plain subject and text with the amount in the order's currency", () => {
    expect(renderTemplate("order_confirmed", order)).toEqual({
      subject: "Demo: order #100042 is confirmed",
      text: [
        "Thank you for your order.",
        "",
        "Order #100042",
        "Total: ¥4,800",
        "",
        "We will write again when it ships.",
        "",
        "Demo",
      ].join("\n"),
    });
    const refunded = renderTemplate("order_refunded", { ...order, refundedAmount: 4800 });
    expect(refunded.text).toContain("Refunded: ¥4,800");
    // Without a known amount the line is left out rather than guessed.
    expect(renderTemplate("order_refunded", order).text).not.toContain("Refunded:");
    const shipped = renderTemplate("order_shipped", { ...order, carrier: "DHL", trackingNumber: "JD01" });
    expect(shipped.text).toContain("Carrier: DHL\nTracking number: JD01");
  });

  it("an abandoned cart needs its link, which is rendered with its expiry", () => {
    const payload = { storeName: "Demo", storeHandle: "demo", cartId: "c-1", itemCount: 1 };
    expect(() => renderTemplate("cart_abandoned", payload)).toThrow(TemplateError);
    const text = renderTemplate("cart_abandoned", payload, {
      recovery: { url: "https://shop.test/r?token=x", expiresAt: new Date("2030-01-08T10:00:00Z") },
    }).text;
    expect(text).toContain("You left 1 item in your cart.");
    expect(text).toContain("https://shop.test/r?token=x");
    expect(text).toContain("The link works until 2030-01-08.");
  });

  it("a payload that does not fit, or an unknown template, is a TemplateError", () => {
    expect(() => renderTemplate("order_confirmed", { ...order, total: -1 })).toThrow(TemplateError);
    expect(() => renderTemplate("order_confirmed", { ...order, total: 1.5 })).toThrow(TemplateError);
    expect(() => renderTemplate("stock_low", order)).toThrow(TemplateError);
    expect(() => renderTemplate("birthday", order)).toThrow(TemplateError);
  });
});
