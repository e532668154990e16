/**
 * nim-token-worker client: `import { createTokenProvider } from "nim-token-worker/client"`.
 * See token-provider.ts and the README's "Client apps" section.
 */
export {
  createTokenProvider,
  TokenProviderError,
  type ClientErrorCode,
  type LoginCredentials,
  type TokenProvider,
  type TokenProviderOptions,
} from "./token-provider.ts";
export type { ErrorBody, ErrorCode, TokenRequest, TokenResponse } from "../contract.ts";
