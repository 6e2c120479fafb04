/**
 * Which process holds the server end of a TCP connection (Linux /proc): how a test sees which cluster
 * worker answered a request without the server having to say so.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Inode of the socket whose local port is `serverPort` and remote port `clientPort` (IPv4 or v6). */
function connectionInode(serverPort: number, clientPort: number): string | undefined {
  const hexPort = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const remote = cols[2];
      if (local?.endsWith(`:${hexPort(serverPort)}`) && remote?.endsWith(`:${hexPort(clientPort)}`)) {
        return cols[9];
      }
    }
  }
  return undefined;
}

/** The pid among `candidates` with an open fd on that connection's server socket, if any. */
export function socketOwner(
  serverPort: number,
  clientPort: number,
  candidates: number[],
): number | undefined {
  const inode = connectionInode(serverPort, clientPort);
  if (!inode || inode === "0") return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of candidates) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid;
      } catch {
        // closed while we looked
      }
    }
  }
  return undefined;
}

/** Child pids of `pid` (from /proc/<child>/stat). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited
    }
  }
  return out;
}
