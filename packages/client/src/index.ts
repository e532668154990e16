/**
 * nim-token-worker-client: `import { createTokenProvider } from "nim-token-worker-client"`.
 * See token-provider.ts, chatroom.ts and this package's README.
 */

export {
  type AnonymousChatroomOptions,
  type ChatroomAddresses,
  type ChatroomClientType,
  type ChatroomProviders,
  type ChatroomProvidersOptions,
  type ChatroomTokenSource,
  createChatroomProviders,
  getAnonymousChatroomAddresses,
} from "./chatroom.js";
export type {
  ChatroomAddressRequest,
  ChatroomAddressResponse,
  ErrorBody,
  ErrorCode,
  IssuedToken,
  RtcTokenRequest,
  RtcTokenResponse,
  SessionRevokeResponse,
  TokenRequest,
  TokenResponse,
} from "./contract.js";
export { type KeepPermKeyFreshOptions, keepPermKeyFresh, type PermKeyClient } from "./nertc.js";
export {
  type ClientErrorCode,
  createTokenProvider,
  type LoginCredentials,
  type RtcCredentials,
  type TokenProvider,
  TokenProviderError,
  type TokenProviderOptions,
} from "./token-provider.js";
