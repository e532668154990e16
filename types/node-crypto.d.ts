/**
 * The pieces of Node's `crypto` and `zlib` that code running in workerd (through `nodejs_compat`) uses apart
 * from the Worker itself: the emulator's and the tests' second implementation of NetEase's signing.
 * Typed here so that the Worker's type check does not take in all of `@types/node`.
 */
declare module "node:crypto" {
  interface Hash {
    update(data: string, encoding: "utf8"): Hash;
    digest(encoding: "hex" | "base64"): string;
  }
  export function createHash(algorithm: "sha1" | "md5"): Hash;
  export function createHmac(algorithm: "sha256", key: string): Hash;
  export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

/** The pieces of Node's `zlib` the emulator and the tests use to read and write NERTC permission keys. */
declare module "node:zlib" {
  export function inflateSync(data: Uint8Array): Uint8Array;
  export function deflateSync(data: Uint8Array): Uint8Array;
}
