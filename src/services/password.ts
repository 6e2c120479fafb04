/**
 * Password hashing with scrypt (memory-hard, in node:crypto: no native build to install).
 * Stored as `scrypt$<logN>$<r>$<p>$<salt b64>$<hash b64>` so the cost can be raised later and old
 * hashes still verify.
 */
import { randomBytes, type ScryptOptions, scrypt as scryptCb, timingSafeEqual } from "node:crypto";

const scrypt = (password: string, salt: Buffer, keylen: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );

export interface PasswordCost {
  /** log2 of scrypt's N. 15 = 32 MiB with r=8: the OWASP-recommended floor. */
  logN: number;
  r: number;
  p: number;
}

export const DEFAULT_PASSWORD_COST: PasswordCost = { logN: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function memoryFor(cost: PasswordCost): number {
  return 128 * 2 ** cost.logN * cost.r * 2;
}

export async function hashPassword(
  password: string,
  cost: PasswordCost = DEFAULT_PASSWORD_COST,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, {
    N: 2 ** cost.logN,
    r: cost.r,
    p: cost.p,
    maxmem: memoryFor(cost),
  });
  return ["scrypt", cost.logN, cost.r, cost.p, salt.toString("base64"), key.toString("base64")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, logN, r, p, saltB64, hashB64] = parts as [string, string, string, string, string, string];
  const cost = { logN: Number(logN), r: Number(r), p: Number(p) };
  const expected = Buffer.from(hashB64, "base64");
  const key = await scrypt(password, Buffer.from(saltB64, "base64"), expected.length, {
    N: 2 ** cost.logN,
    r: cost.r,
    p: cost.p,
    maxmem: memoryFor(cost),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
