/**
 * nim-token-worker-client: `import { createTokenProvider } from "nim-token-worker-client"`.
 * See token-provider.ts and this package's README.
 */
export {
  createTokenProvider,
  TokenProviderError,
  type ClientErrorCode,
  type LoginCredentials,
  type TokenProvider,
  type TokenProviderOptions,
} from "./token-provider.js";
export type { ErrorBody, ErrorCode, TokenRequest, TokenResponse } from "./contract.js";
