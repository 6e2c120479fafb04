/**
 * Renders docs/api.md, the API guide, from the built schema: the conventions every client needs, then
 * every operation grouped by area (src/schema/operations.ts) with its description, arguments, return
 * type, who may call it and, for mutations, its error codes (src/schema/mutation-errors.ts), then the
 * error codes and every type. Everything but the conventions comes from the schema and those two maps,
 * so the guide cannot say something the schema does not.
 */
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
} from "graphql";
import { MUTATION_ERRORS, mutationErrors } from "../src/schema/mutation-errors.js";
import {
  AREAS,
  type Area,
  generatedLines,
  OPERATIONS,
  type OperationName,
} from "../src/schema/operations.js";

const AREA_TITLES: Record<Area, string> = {
  catalog: "Catalog",
  identity: "Identity: guest sessions, customers, staff sign-in",
  carts: "Carts and saved items",
  discounts: "Discount codes on carts",
  shipping: "Shipping address, method and rates",
  checkout: "Checkout",
  orders: "Orders (shoppers)",
  staff: "Staff and admin",
  subscriptions: "Subscriptions (WebSocket)",
};

type Kind = "query" | "mutation" | "subscription";

interface Operation {
  kind: Kind;
  field: GraphQLField<unknown, unknown>;
}

/** A GitHub heading anchor: lower case, spaces to '-', punctuation other than '-' and '_' dropped. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\w\- ]/g, "")
    .replace(/ /g, "-");
}

const operationHeading = (op: Operation) => `${op.field.name} (${op.kind})`;
const typeLink = (name: string) => `[${name}](#${anchor(name)})`;

/** A type as written in SDL, its named type linked unless it is a built-in scalar. */
function typeRef(type: GraphQLType): string {
  const named = getNamedType(type);
  const text = String(type);
  if (isSpecifiedScalarType(named)) return `\`${text}\``;
  // List brackets escaped, so that `[[Cart](#cart)!]!` cannot read as a link around a link.
  return text.replace(/[[\]]/g, "\\$&").replace(named.name, typeLink(named.name));
}

/** A description fit for one table cell. */
function cell(text: string | null | undefined): string {
  return (text ?? "").replace(/\s*\n+\s*/g, " ").replace(/\|/g, "\\|");
}

/** An operation's description without the lines describeOperation generated (rendered on their own). */
function prose(name: OperationName, description: string): string {
  const tail = generatedLines(name).join("\n\n");
  if (!description.endsWith(`\n\n${tail}`)) {
    throw new Error(`${name}: its description does not end with the generated lines (use describeOperation)`);
  }
  return description.slice(0, -(tail.length + 2));
}

function codeList(codes: readonly string[]): string {
  return codes.map((c) => `\`${c}\``).join(", ");
}

function argumentsTable(args: readonly GraphQLArgument[]): string[] {
  if (args.length === 0) return ["Arguments: none."];
  return [
    "| Argument | Type | Default | Description |",
    "| --- | --- | --- | --- |",
    ...args.map(
      (a) =>
        `| \`${a.name}\` | ${typeRef(a.type)} | ${a.defaultValue === undefined ? "" : `\`${JSON.stringify(a.defaultValue)}\``} | ${cell(a.description)} |`,
    ),
  ];
}

function renderOperation(op: Operation): string[] {
  const name = op.field.name as OperationName;
  const info = OPERATIONS[name];
  const returned = getNamedType(op.field.type);
  // Alphabetical, as in schema.graphql (introspection's order is an accident of the decorators).
  const args = [...op.field.args].sort((a, b) => a.name.localeCompare(b.name));
  const lines = [
    `### ${operationHeading(op)}`,
    "",
    "```graphql",
    `${op.field.name}${args.length ? `(${args.map((a) => `${a.name}: ${String(a.type)}`).join(", ")})` : ""}: ${String(op.field.type)}`,
    "```",
    "",
    prose(name, op.field.description ?? ""),
    "",
    `**Who may call:** ${info.who}.`,
    "",
    ...argumentsTable(args),
    "",
    `**Returns** ${typeRef(op.field.type)}${returned.description ? `: ${cell(returned.description)}` : ""}`,
  ];
  const errors = mutationErrors(name);
  if (errors) {
    lines.push(
      "",
      `**Error codes:** userErrors ${errors.userErrors.length ? codeList(errors.userErrors) : "none"}; ` +
        `GraphQL errors ${errors.errors.length ? codeList(errors.errors) : "none"} (plus the request-level codes).`,
    );
  }
  return [...lines, ""];
}

function operations(schema: GraphQLSchema): Operation[] {
  const roots: [Kind, ReturnType<GraphQLSchema["getQueryType"]>][] = [
    ["query", schema.getQueryType()],
    ["mutation", schema.getMutationType()],
    ["subscription", schema.getSubscriptionType()],
  ];
  const all = roots.flatMap(([kind, type]) =>
    Object.values(type?.getFields() ?? {}).map((field) => ({ kind, field })),
  );
  const order = Object.keys(OPERATIONS);
  for (const op of all) {
    if (!order.includes(op.field.name)) {
      throw new Error(`${op.field.name}: no entry in src/schema/operations.ts (area and who may call it)`);
    }
  }
  return all.sort((a, b) => order.indexOf(a.field.name) - order.indexOf(b.field.name));
}

function renderErrorCodes(schema: GraphQLSchema): string[] {
  const errorCode = schema.getType("ErrorCode");
  if (!isEnumType(errorCode)) throw new Error("ErrorCode enum missing");
  const byCode = new Map<string, string[]>();
  for (const [mutation, entry] of Object.entries(MUTATION_ERRORS)) {
    const link = `[${mutation}](#${anchor(`${mutation} (mutation)`)})`;
    for (const code of entry.userErrors) byCode.set(code, [...(byCode.get(code) ?? []), link]);
    for (const code of entry.errors) {
      if (code === "FORBIDDEN") byCode.set(code, [...(byCode.get(code) ?? []), `${link} (GraphQL error)`]);
    }
  }
  return [
    "## Error codes",
    "",
    cell(errorCode.description),
    "",
    "| Code | Meaning | Returned by |",
    "| --- | --- | --- |",
    ...errorCode
      .getValues()
      .map((v) => `| \`${v.name}\` | ${cell(v.description)} | ${(byCode.get(v.name) ?? []).join(", ")} |`),
    "",
  ];
}

function renderType(type: GraphQLNamedType): string[] {
  const lines = [`### ${type.name}`, "", cell(type.description), ""];
  if (isObjectType(type)) {
    lines.push(
      "| Field | Type | Description |",
      "| --- | --- | --- |",
      ...Object.values(type.getFields()).map(
        (f) => `| \`${f.name}\` | ${typeRef(f.type)} | ${cell(f.description)} |`,
      ),
    );
  } else if (isInputObjectType(type)) {
    lines.push(
      "| Field | Type | Default | Description |",
      "| --- | --- | --- | --- |",
      ...Object.values(type.getFields()).map(
        (f: GraphQLInputField) =>
          `| \`${f.name}\` | ${typeRef(f.type)} | ${f.defaultValue === undefined ? "" : `\`${JSON.stringify(f.defaultValue)}\``} | ${cell(f.description)} |`,
      ),
    );
  } else if (isEnumType(type)) {
    if (type.name === "ErrorCode")
      lines.push("The values and what each means: see [Error codes](#error-codes).");
    else
      lines.push(
        "| Value | Description |",
        "| --- | --- |",
        ...type.getValues().map((v) => `| \`${v.name}\` | ${cell(v.description)} |`),
      );
  } else if (isScalarType(type)) {
    lines.push("A scalar.");
  }
  return [...lines, ""];
}

function renderTypes(schema: GraphQLSchema): string[] {
  const roots = new Set(
    [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].map((t) => t?.name),
  );
  const types = Object.values(schema.getTypeMap())
    .filter((t) => !t.name.startsWith("__") && !roots.has(t.name) && !isSpecifiedScalarType(t))
    .sort((a, b) => a.name.localeCompare(b.name));
  return ["## Types", "", ...types.flatMap(renderType)];
}

/** What every client needs before the first request. Hand-written: the schema cannot say it. */
const CONVENTIONS = `## Conventions

- **Endpoint.** \`POST /graphql\` with a JSON body \`{ "query", "variables" }\` (\`content-type:
  application/json\`). The same path serves subscriptions over WebSocket with the graphql-ws protocol,
  and, in a browser that asks for HTML, the GraphiQL playground.
- **Store.** \`x-store: <handle>\` picks the store; without it, the default store. An unknown handle
  fails the whole request with \`STORE_NOT_FOUND\` (HTTP 404). Every id, token and code belongs to one
  store.
- **Who is calling.** \`authorization: Bearer <token>\`, where the token comes from
  \`guestSessionCreate\` (a guest session), \`customerRegister\` / \`customerLogin\` (a customer) or
  \`staffLogin\` (a staff member with a role: STAFF, ADMIN or OWNER). Without the header the caller is
  anonymous. An invalid or expired token fails the whole request with \`UNAUTHENTICATED\` (HTTP 401):
  get a new one. Tokens expire after JWT_TTL_SECONDS; \`signOut\` ends every token of an account.
- **WebSocket.** graphql-ws at \`/graphql\`, with \`connectionParams: { store, authorization }\`
  (the same values as the headers). A connection whose token expires is closed with code 4403.
- **Money** is \`Money { amount, currencyCode }\`: \`amount\` is an integer number of minor units of
  the store's currency (1999 = 19.99 USD), never a float. Money arguments (prices, amounts) are \`Int\`
  minor units of the store's currency too.
- **Ids** are opaque strings. An id that is malformed, unknown, of another store or of another shopper
  gets the same answer (null, or \`NOT_FOUND\`), so nothing leaks about others' data.
- **Lists that grow** are Relay connections: \`first\` (0 to 100, default 20) and \`after\` (a cursor
  from \`pageInfo.endCursor\`); \`hasNextPage\` says whether to ask again.
- **Mutations** answer with a payload carrying \`userErrors { code message field variantId available
  requiredAmount }\`: empty on success; otherwise the mutation wrote nothing, except where its
  description says otherwise (checkout's payment outcomes, sign-in with a guest cart that could not be
  merged). \`field\` is the path of the input at fault, e.g. \`["lines", "0", "quantity"]\`. Each
  mutation below lists the codes it can return.
- **GraphQL errors** (\`errors[].extensions.code\`) are for callers who may not call the operation
  (\`UNAUTHENTICATED\`, \`FORBIDDEN\`: the payload is null), for query arguments that make no sense
  (\`BAD_USER_INPUT\`, with \`extensions.userErrors\`), and for the request-level failures below.
  Anything unexpected is \`INTERNAL_SERVER_ERROR\`, with no details; quote the \`x-request-id\`
  response header when reporting it.

### Request-level error codes

Any operation can fail with these, before or instead of running (no \`path\`, or the whole response):

| Code | When |
| --- | --- |
| \`STORE_NOT_FOUND\` | \`x-store\` (or connectionParams.store) names no store (HTTP 404). |
| \`UNAUTHENTICATED\` | The bearer token is malformed, expired, for another store or of an account signed out (HTTP 401; over WebSocket the connection is refused). |
| \`RATE_LIMITED\` | More than RATE_LIMIT_PER_MINUTE operations a minute from one caller (by token, else by address): HTTP 429 with \`retry-after\` and \`extensions.retryAfterSeconds\`. Over WebSocket also: too many operations at once on one connection. |
| \`INVALID_INPUT\` | Text anywhere in the input that cannot be stored (a NUL character, a lone UTF-16 surrogate); \`extensions.field\` names it. |
| \`BAD_USER_INPUT\` | Variables that do not fit their types; for queries, also arguments a service refuses (a bad cursor, \`first\` out of range). |
| \`BAD_REQUEST\` / \`PAYLOAD_TOO_LARGE\` | A body that is not a GraphQL request, or larger than MAX_BODY_BYTES. |
| \`GRAPHQL_PARSE_FAILED\` / \`GRAPHQL_VALIDATION_FAILED\` | The document does not parse, or does not fit the schema (also: introspection while GRAPHQL_INTROSPECTION is off, the default in production). |
| \`QUERY_TOO_DEEP\` / \`QUERY_TOO_COMPLEX\` / \`TOO_MANY_ALIASES\` / \`TOO_MANY_MUTATIONS\` | The operation exceeds MAX_QUERY_DEPTH, MAX_QUERY_COMPLEXITY (a list costs its \`first\`), MAX_ALIASES or MAX_ROOT_MUTATION_FIELDS. |
| \`SUBSCRIPTION_REQUIRES_WEBSOCKET\` | A subscription sent over HTTP. |
| \`INTERNAL_SERVER_ERROR\` | Something unexpected; logged with the request id. |
`;

export function renderApiGuide(schema: GraphQLSchema): string {
  const ops = operations(schema);
  const toc = AREAS.map((area) => {
    const names = ops
      .filter((op) => OPERATIONS[op.field.name as OperationName].area === area)
      .map((op) => `[${op.field.name}](#${anchor(operationHeading(op))})`);
    return `- [${AREA_TITLES[area]}](#${anchor(AREA_TITLES[area])}): ${names.join(", ")}`;
  });
  const sections = AREAS.flatMap((area) => [
    `## ${AREA_TITLES[area]}`,
    "",
    ...ops.filter((op) => OPERATIONS[op.field.name as OperationName].area === area).flatMap(renderOperation),
  ]);
  const mutationCount = Object.keys(MUTATION_ERRORS).length;
  const text = [
    "<!-- Generated from the schema by `npm run docs:emit` (scripts/api-docs.ts). Do not edit: CI checks it is current. -->",
    "",
    "# Cartograph API guide",
    "",
    "Cartograph is one GraphQL API for shoppers (browse, cart, checkout, orders), for staff (catalog, " +
      "stock, discounts, shipping, tax, orders, settings) and for live events. This guide is generated " +
      "from the schema (`schema.graphql`, which the playground's docs also show): the descriptions there " +
      `are the contract. ${ops.length} operations, ${mutationCount} of them mutations.`,
    "",
    "## Contents",
    "",
    "- [Conventions](#conventions), [request-level error codes](#request-level-error-codes)",
    ...toc,
    "- [Error codes](#error-codes)",
    "- [Types](#types)",
    "",
    CONVENTIONS,
    ...sections,
    ...renderErrorCodes(schema),
    ...renderTypes(schema),
  ].join("\n");
  return `${text.trimEnd()}\n`;
}
