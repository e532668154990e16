/**
 * The HTTP contract. The token API's bodies and the error codes are defined once, in the client
 * package (`packages/client/src/contract.ts`), because apps install that package; they are re-exported
 * here beside the admin API's and the login callback's bodies, which only the Worker speaks.
 */

export {
  ERROR_CODES,
  type ErrorBody,
  type ErrorCode,
  type TokenRequest,
  type TokenResponse,
} from "../packages/client/src/contract.ts";

/** An account as the admin API shows it. Times are Unix milliseconds. */
export interface AdminAccount {
  uid: string;
  accid: string;
  status: "active" | "blocked";
  createdAt: number;
  updatedAt: number;
  /** Rotations so far; 0 for the first accid. */
  generation: number;
}

/** `PUT /admin/v1/accounts/{uid}` request body. */
export interface BindRequest {
  accid: string;
}

/** `POST /admin/v1/accounts/{uid}/block` request body (optional). */
export interface BlockRequest {
  /** Disconnect the account's live IM sessions too. Default true. */
  kick?: boolean;
}

/** One row of `POST /admin/v1/accounts/import`. */
export interface ImportRow {
  uid: string;
  accid: string;
}

/** What happened to one import row. */
export type ImportOutcome = "bound" | "already_bound" | "conflict" | "invalid";

/** The answer for one import row; `line` counts from 1. */
export interface ImportRowResult {
  line: number;
  outcome: ImportOutcome;
  uid?: string;
  accid?: string;
  message?: string;
}

/** `POST /admin/v1/accounts/import` answer. */
export interface ImportResponse {
  counts: Record<ImportOutcome, number>;
  results: ImportRowResult[];
}

/** Answer to NetEase's login callback: allow (`errCode` 0) or reject with a reason code. */
export interface LoginCallbackDecision {
  errCode: 0 | 1;
  responseCode?: number;
}
