/** Is a TCP port free to listen on? Checked before any start-up work, so a taken port fails at once. */
import { createServer } from "node:net";
import { StartupError } from "./startup-error.js";

/** Throws a StartupError naming the setting when `port` cannot be listened on at `host`. */
export async function assertPortFree(port: number, host: string, setting: string): Promise<void> {
  const problem = await listenProbe(port, host);
  if (!problem) return;
  if (problem === "EADDRINUSE") {
    throw new StartupError(
      `Port ${port} (${setting}) is already in use on ${host}: stop the program listening there or set ${setting} to a free port.`,
      "unavailable",
      "PORT_IN_USE",
    );
  }
  if (problem === "EACCES") {
    throw new StartupError(
      `Port ${port} (${setting}) needs privileges this process does not have: use a port above 1023.`,
      "config",
      "PORT_FORBIDDEN",
    );
  }
  throw new StartupError(
    `Cannot listen on ${host}:${port} (${setting}): ${problem}. Check HOST and ${setting}.`,
    "config",
    "LISTEN_FAILED",
  );
}

/** Resolves null when the port could be bound (and was released again), else the error code. */
function listenProbe(port: number, host: string): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}
