/**
 * The pieces of Node's `crypto` that code running in workerd (through `nodejs_compat`) uses apart
 * from the Worker itself: the emulator's and the tests' second implementation of NetEase's signing.
 * Typed here so that the Worker's type check does not take in all of `@types/node`.
 */
declare module "node:crypto" {
  interface Hash {
    update(data: string, encoding: "utf8"): Hash;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "sha1" | "md5"): Hash;
  export function createHmac(algorithm: "sha256", key: string): Hash;
  export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}
