/** Types shared by the whole schema: Money, UserError, ErrorCode, pagination. */
import { GraphQLJSON } from "graphql-scalars";
import { ClassType, Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { ErrorCode, type UserErrorData } from "../services/errors.js";

registerEnumType(ErrorCode, {
  name: "ErrorCode",
  description: "Why an operation did not do what was asked.",
});

export { GraphQLJSON as JSONScalar };

@ObjectType({
  description:
    "An amount of money: `amount` in minor units of `currencyCode` (cents for USD, whole yen for JPY), and " +
    "`formatted` for display. A value without identity: clients cache it inside its parent.",
})
export class Money {
  @Field(() => Int, { description: "Minor units, e.g. 1999 = 19.99 USD." })
  amount: number;

  @Field(() => String, { description: "ISO 4217 code." })
  currencyCode: string;

  static of(amount: number, currencyCode: string): Money {
    const m = new Money();
    m.amount = amount;
    m.currencyCode = currencyCode;
    return m;
  }
}

@ObjectType({ description: "An expected failure: the operation changed nothing." })
export class UserError {
  @Field(() => ErrorCode)
  code: ErrorCode;

  @Field(() => String)
  message: string;

  @Field(() => [String], { nullable: true, description: "Path to the input field at fault." })
  field?: string[] | null;

  @Field(() => ID, { nullable: true })
  variantId?: string | null;

  @Field(() => Int, { nullable: true, description: "Units available, for stock errors." })
  available?: number | null;

  /** `requiredAmount` in minor units of the store's currency; exposed as Money (money.resolver.ts). */
  requiredMinorUnits?: number | null;

  static from(e: UserErrorData): UserError {
    const { requiredAmount, ...rest } = e;
    return Object.assign(new UserError(), rest, { requiredMinorUnits: requiredAmount ?? null });
  }
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage: boolean;

  @Field(() => Boolean)
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true })
  startCursor: string | null;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** Builds a Relay connection type (`XConnection` with `XEdge`) for a node class. */
export function Connection<T extends object>(name: string, node: ClassType<T>) {
  @ObjectType(`${name}Edge`)
  class EdgeType {
    @Field(() => String)
    cursor: string;

    @Field(() => node)
    node: T;
  }

  @ObjectType(`${name}ConnectionBase`)
  abstract class ConnectionType {
    @Field(() => [EdgeType])
    edges: Edge<T>[];

    @Field(() => PageInfo)
    pageInfo: PageInfo;

    @Field(() => Int, { nullable: true, description: "Total matching items (may be omitted)." })
    totalCount?: number | null;
  }
  return ConnectionType;
}

/** Base for mutation payloads: every payload carries userErrors (empty on success). */
@ObjectType("PayloadBase")
export abstract class Payload {
  @Field(() => [UserError])
  userErrors: UserError[];
}
