/** Discount codes as staff manage them. Shoppers see applied codes as AppliedDiscount (cart.types.ts). */
import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import type { DiscountRecord } from "../services/discount.service.js";
import type { Page } from "../services/pagination.js";
import { DiscountType } from "./cart.types.js";
import { Connection, edgesOf, Money, PageInfo, Payload } from "./common.types.js";

type DiscountTypeValue = keyof typeof DiscountType;

@ObjectType({ description: "A discount code of the store (staff view)." })
export class Discount {
  @Field(() => ID, { description: "The discount's id, for discountUpdate." })
  id: string;

  @Field(() => String, { description: "Upper-case; shoppers may type it in any case." })
  code: string;

  @Field(() => DiscountType, { description: "What the code gives." })
  type: DiscountTypeValue;

  @Field(() => Int, {
    description:
      "PERCENTAGE: percent (1-100); FIXED_AMOUNT: minor units; BUY_X_GET_Y: percent off the Y items; else 0.",
  })
  value: number;

  @Field(() => Int, { nullable: true, description: "BUY_X_GET_Y: X." })
  buyQty: number | null;

  @Field(() => Int, { nullable: true, description: "BUY_X_GET_Y: Y." })
  getQty: number | null;

  @Field(() => Money, { nullable: true, description: "Minimum subtotal of the eligible items." })
  minOrderAmount: Money | null;

  @Field(() => Int, { nullable: true, description: "Uses across all customers; null = unlimited." })
  maxUses: number | null;

  @Field(() => Int, { description: "Uses consumed by orders (reversed on cancellation)." })
  usesCount: number;

  @Field(() => Int, { nullable: true, description: "Uses per customer (or guest email); null = unlimited." })
  perCustomerLimit: number | null;

  @Field(() => Date, {
    nullable: true,
    description: "Inclusive: valid from this instant on; null = no start.",
  })
  validFrom: Date | null;

  @Field(() => Date, { nullable: true, description: "Exclusive: expired from this instant on." })
  validUntil: Date | null;

  @Field(() => [ID], { nullable: true, description: "Products the code applies to; null = every product." })
  applicableProductIds: string[] | null;

  @Field(() => Boolean, { description: "May be used together with other combinable codes." })
  combinable: boolean;

  @Field(() => Boolean, { description: "Switched on; an inactive code gives nothing (DISCOUNT_INACTIVE)." })
  isActive: boolean;

  @Field(() => Date, { description: "When it was created; `discounts` lists in this order." })
  createdAt: Date;

  @Field(() => Date, { description: "When it was last changed." })
  updatedAt: Date;

  static from(d: DiscountRecord, currency: string): Discount {
    return Object.assign(new Discount(), {
      id: d.id,
      code: d.code,
      type: d.type,
      value: d.value,
      buyQty: d.buyQty,
      getQty: d.getQty,
      minOrderAmount: d.minOrderAmount === null ? null : Money.of(d.minOrderAmount, currency),
      maxUses: d.maxUses,
      usesCount: d.usesCount,
      perCustomerLimit: d.perCustomerLimit,
      validFrom: d.validFrom,
      validUntil: d.validUntil,
      applicableProductIds: d.applicableProductIds,
      combinable: d.combinable,
      isActive: d.isActive,
      createdAt: d.createdAt,
      updatedAt: d.updatedAt,
    });
  }
}

@InputType({
  description:
    "Every editable field of a discount. discountUpdate replaces them all: omitted fields become null " +
    "(combinable false, isActive true).",
})
export class DiscountInput {
  @Field(() => String, {
    description: "1-64 letters, digits, '-' or '_'; stored upper-case, unique per store.",
  })
  code: string;

  @Field(() => DiscountType, { description: "What the code gives." })
  type: DiscountTypeValue;

  @Field(() => Int, {
    nullable: true,
    defaultValue: 0,
    description:
      "PERCENTAGE: 1-100; FIXED_AMOUNT: minor units; BUY_X_GET_Y: percent off the Y items; else 0.",
  })
  value?: number | null;

  @Field(() => Int, { nullable: true, description: "BUY_X_GET_Y only: X (>= 1)." })
  buyQty?: number | null;

  @Field(() => Int, { nullable: true, description: "BUY_X_GET_Y only: Y (>= 1)." })
  getQty?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: "Minimum subtotal of the eligible items before discounts (minor units, >= 1); null = none.",
  })
  minOrderAmount?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: ">= 1, or null = unlimited; not below the uses already made.",
  })
  maxUses?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: "Uses per customer (guests: per email), >= 1; null = unlimited.",
  })
  perCustomerLimit?: number | null;

  @Field(() => Date, {
    nullable: true,
    description: "Inclusive start; null = valid at once. Year 1970 to 9999.",
  })
  validFrom?: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: "Exclusive end; must be after validFrom. Null = no end.",
  })
  validUntil?: Date | null;

  @Field(() => [ID], {
    nullable: true,
    description: "1 to 1000 products of this store; null = every product (an empty list is refused).",
  })
  applicableProductIds?: string[] | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: "May count together with other combinable codes on one cart.",
  })
  combinable?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: true,
    description: "Switched on (gives its discount).",
  })
  isActive?: boolean | null;
}

@ObjectType({ description: "What discountCreate and discountUpdate answered." })
export class DiscountPayload extends Payload {
  @Field(() => Discount, { nullable: true, description: "The discount as stored; null on userErrors." })
  discount: Discount | null;
}

@ObjectType("DiscountConnection", { description: "A page of the store's discount codes, oldest first." })
export class DiscountConnection extends Connection("Discount", Discount) {
  static from(page: Page<DiscountRecord>, currency: string): DiscountConnection {
    return Object.assign(new DiscountConnection(), {
      edges: edgesOf(page, (row) => Discount.from(row, currency)),
      pageInfo: PageInfo.of(page),
      totalCount: null,
    });
  }
}
