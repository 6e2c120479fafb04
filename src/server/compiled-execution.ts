/**
 * GraphQL execution over HTTP through graphql-jit: each operation is compiled once into a function
 * that resolves and completes its selection without graphql-js walking the document on every request
 * (on a products page of 20 that walk, its promises and its garbage were a third of the server's CPU).
 * Apollo Server keeps everything else (parsing, validation with our limit rules, the plugins of
 * app.ts, error formatting); it hands execution to the function below through its gateway interface,
 * the one way Apollo Server 5 takes an executor.
 *
 * Compiled operations are kept per parsed document (Apollo keeps one parsed document per distinct query
 * text in its bounded document store, and gives the same object back for the same text), so they go
 * when the document does. An operation graphql-jit cannot compile runs on graphql-js, as before.
 * Subscriptions (WebSocket, graphql-ws) are not affected.
 */
import type { ApolloServerOptionsWithGateway, BaseContext } from "@apollo/server";
import { type DocumentNode, type ExecutionResult, execute, GraphQLError, type GraphQLSchema } from "graphql";
import { type CompiledQuery, compileQuery, isCompiledQuery } from "graphql-jit";

type Compiled = CompiledQuery | null;

type Gateway = ApolloServerOptionsWithGateway<BaseContext>["gateway"];
type Executor = NonNullable<Awaited<ReturnType<Gateway["load"]>>["executor"]>;

export function compiledExecutor(schema: GraphQLSchema): Executor {
  const byDocument = new WeakMap<DocumentNode, Map<string, Compiled>>();
  const compiledFor = (document: DocumentNode, operationName: string | null): Compiled => {
    let byOperation = byDocument.get(document);
    if (!byOperation) {
      byOperation = new Map();
      byDocument.set(document, byOperation);
    }
    const key = operationName ?? "";
    let compiled = byOperation.get(key);
    if (compiled === undefined) {
      const result = compileQuery(schema, document, operationName ?? undefined);
      compiled = isCompiledQuery(result) ? result : null;
      byOperation.set(key, compiled);
    }
    return compiled;
  };
  return async (requestContext) => {
    const { document, operationName, context, request } = requestContext;
    const compiled = compiledFor(document, operationName);
    const result = compiled
      ? await compiled.query(undefined, context, request.variables ?? {})
      : await execute({
          schema,
          document,
          contextValue: context,
          variableValues: request.variables,
          operationName,
        });
    if (compiled && result.errors?.length) {
      // No data: the variables did not coerce, the client's input error (Apollo answers it with 400).
      const inputError = !("data" in result) || result.data === undefined;
      return { ...result, errors: result.errors.map((e) => asGraphQLError(e, inputError)) };
    }
    return result as ExecutionResult<Record<string, unknown>>;
  };
}

/**
 * graphql-jit's errors are GraphQLErrors without `extensions` when the thrown error had none; Apollo
 * Server reads `error.extensions.code`, and it recognises graphql-js's variable errors by their AST
 * nodes, which graphql-jit's do not carry. The same error as graphql-js makes it: message, locations,
 * path, the thrown error as originalError, its extensions; BAD_USER_INPUT for a variable error.
 */
function asGraphQLError(error: GraphQLError, inputError: boolean): GraphQLError {
  const made = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: inputError
      ? { ...error.extensions, code: "BAD_USER_INPUT" }
      : (error.extensions ?? undefined),
  });
  // graphql-js computes locations from AST nodes, which graphql-jit does not keep: carry its own.
  (made as { locations: GraphQLError["locations"] }).locations = error.locations;
  return made;
}

/** What Apollo Server takes in place of `schema` to execute with `compiledExecutor`. */
export function compiledExecutionGateway(schema: GraphQLSchema): Gateway {
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: "" });
      return () => {};
    },
    async load() {
      return { executor: compiledExecutor(schema) };
    },
    async stop() {},
  };
}
