/**
 * The one piece of Node's `crypto` the tests use inside workerd (through `nodejs_compat`), typed
 * here so that the Worker's type check does not take in all of `@types/node`.
 */
declare module "node:crypto" {
  interface Hash {
    update(data: string, encoding: "utf8"): Hash;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "sha1" | "md5"): Hash;
}
