/**
 * The OpenAPI 3.1 document served at GET /openapi.json, built from the same schemas the routes
 * validate with (schema.ts) and the live configuration (the ttl range), so it cannot drift from the
 * code. Pure: no I/O, so Node tooling can build and validate it too.
 */

import { LIMITS } from "./constants.ts";
import {
  adminAccountSchema,
  bindRequestSchema,
  blockRequestSchema,
  errorSchema,
  healthSchema,
  importRequestSchema,
  importResponseSchema,
  loginDecisionSchema,
  type Schema,
  tokenRequestSchema,
  tokenResponseSchema,
  uidSchema,
} from "./schema.ts";

type Json = Record<string, unknown>;

const json = (schema: Schema | Json, description: string): Json => ({
  description,
  content: { "application/json": { schema } },
});
const error = (description: string): Json => ({ $ref: "#/components/responses/Error", description });
const errors = (codes: Record<string, string>): Json =>
  Object.fromEntries(Object.entries(codes).map(([status, description]) => [status, error(description)]));

const upstream = {
  "502": "NetEase refused the request (upstream_error).",
  "503":
    "NetEase, KV or the JWKS is unavailable (upstream_unavailable, storage_unavailable, session_keys_unavailable); see Retry-After.",
};
const adminErrors = {
  "400": "Invalid uid or body (invalid_request).",
  "401": "Missing or wrong admin token (unauthorized).",
  "404": "No such account, or the admin API is off (not_found).",
  "429": "Too many failed authentications from this IP (rate_limited); see Retry-After.",
  ...upstream,
};
const uidParameter = {
  name: "uid",
  in: "path",
  required: true,
  description: "The app user id, URL-encoded.",
  schema: uidSchema,
};

/** Builds the document for a service with this ttl range. */
export function buildOpenApiDocument(ttl: { min: number; max: number; default: number }): Json {
  const tokenRequest = tokenRequestSchema(ttl);
  return {
    openapi: "3.1.0",
    info: {
      title: "nim-token-worker",
      version: "1.0.0",
      description:
        "Issues NetEase IM (CommsEase) dynamic login tokens for app users signed in with an app-session JWT. " +
        "Every error is JSON {error, message} with a stable error code.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        session: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The app-session JWT; its sub is the uid.",
        },
        admin: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN." },
        netease: {
          type: "apiKey",
          in: "header",
          name: "CheckSum",
          description: "NetEase's callback signature (AppKey, CurTime, MD5, CheckSum).",
        },
      },
      schemas: {
        TokenRequest: tokenRequest,
        TokenResponse: tokenResponseSchema,
        Error: errorSchema,
        Health: healthSchema,
        AdminAccount: adminAccountSchema,
        BindRequest: bindRequestSchema,
        BlockRequest: blockRequestSchema,
        ImportRequest: importRequestSchema,
        ImportResponse: importResponseSchema,
        LoginDecision: loginDecisionSchema,
      },
      responses: { Error: json({ $ref: "#/components/schemas/Error" }, "An error.") },
    },
    paths: {
      "/v1/token": {
        post: {
          operationId: "issueToken",
          summary: "Issue a dynamic token for the session's user.",
          security: [{ session: [] }],
          requestBody: {
            required: false,
            description: `Optional. ttl defaults to ${ttl.default} seconds.`,
            content: { "application/json": { schema: { $ref: "#/components/schemas/TokenRequest" } } },
          },
          responses: {
            "200": json({ $ref: "#/components/schemas/TokenResponse" }, "The token (Cache-Control: no-store)."),
            ...errors({
              "400": "Invalid body or ttl out of range (invalid_request).",
              "401": "No session (missing_session) or an invalid one (invalid_session).",
              "403": "The account is blocked (account_blocked).",
              "413": `Body over ${LIMITS.maxBodyBytes} bytes (payload_too_large).`,
              "415": "Body is not application/json (unsupported_media_type).",
              "429": "Too many requests (rate_limited); see Retry-After.",
              "500": "The service is misconfigured (misconfigured).",
              ...upstream,
            }),
          },
        },
      },
      "/healthz": {
        get: {
          operationId: "health",
          summary: "Whether the service is configured.",
          responses: {
            "200": json({ $ref: "#/components/schemas/Health" }, "Configured."),
            "503": json(
              { $ref: "#/components/schemas/Health" },
              "Misconfigured: names (never values) of the settings at fault.",
            ),
          },
        },
      },
      "/openapi.json": {
        get: {
          operationId: "openapi",
          summary: "This document.",
          responses: { "200": { description: "The OpenAPI document." } },
        },
      },
      "/v1/nim/login-callback": {
        post: {
          operationId: "loginCallback",
          summary: "NetEase's third-party login callback (eventType 36).",
          security: [{ netease: [] }],
          requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
          responses: {
            "200": json(
              { $ref: "#/components/schemas/LoginDecision" },
              "Allow (errCode 0) or reject (errCode 1, responseCode 20001–20006).",
            ),
            ...errors({
              "401": "Not signed by NetEase (unauthorized).",
              "429": "Too many failed authentications from this IP (rate_limited).",
            }),
          },
        },
      },
      "/admin/v1/accounts/import": {
        post: {
          operationId: "importAccounts",
          summary: `Bind up to ${LIMITS.maxImportRows} existing NetEase accids to uids.`,
          security: [{ admin: [] }],
          requestBody: {
            required: true,
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/ImportRequest" } },
              "application/x-ndjson": {
                schema: { type: "string", description: "One {uid, accid} JSON object per line." },
              },
            },
          },
          responses: {
            "200": json({ $ref: "#/components/schemas/ImportResponse" }, "Per-row outcomes."),
            ...errors({ ...adminErrors, "413": "Body too large (payload_too_large).", "415": "Not JSON or NDJSON." }),
          },
        },
      },
      "/admin/v1/accounts/{uid}": {
        parameters: [uidParameter],
        get: {
          operationId: "getAccount",
          summary: "Read an account.",
          security: [{ admin: [] }],
          responses: {
            "200": json({ $ref: "#/components/schemas/AdminAccount" }, "The account."),
            ...errors(adminErrors),
          },
        },
        put: {
          operationId: "bindAccount",
          summary: "Bind an existing NetEase accid to the uid.",
          security: [{ admin: [] }],
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/BindRequest" } } },
          },
          responses: {
            "200": json({ $ref: "#/components/schemas/AdminAccount" }, "Already bound (outcome already_bound)."),
            "201": json({ $ref: "#/components/schemas/AdminAccount" }, "Bound (outcome bound)."),
            ...errors({ ...adminErrors, "409": "The uid or the accid is bound elsewhere (conflict)." }),
          },
        },
      },
      "/admin/v1/accounts/{uid}/block": {
        parameters: [uidParameter],
        post: {
          operationId: "blockAccount",
          summary: "Block the account at NetEase (optionally kicking live sessions).",
          security: [{ admin: [] }],
          requestBody: {
            required: false,
            content: { "application/json": { schema: { $ref: "#/components/schemas/BlockRequest" } } },
          },
          responses: { "200": json({ $ref: "#/components/schemas/AdminAccount" }, "Blocked."), ...errors(adminErrors) },
        },
      },
      "/admin/v1/accounts/{uid}/unblock": {
        parameters: [uidParameter],
        post: {
          operationId: "unblockAccount",
          summary: "Unblock the account.",
          security: [{ admin: [] }],
          responses: {
            "200": json({ $ref: "#/components/schemas/AdminAccount" }, "Active again."),
            ...errors(adminErrors),
          },
        },
      },
      "/admin/v1/accounts/{uid}/rotate": {
        parameters: [uidParameter],
        post: {
          operationId: "rotateAccount",
          summary: "Move the uid to a new accid and block the old one.",
          security: [{ admin: [] }],
          responses: {
            "200": json({ $ref: "#/components/schemas/AdminAccount" }, "The new account, with previousAccid."),
            ...errors({ ...adminErrors, "409": "The account is blocked (conflict)." }),
          },
        },
      },
    },
  };
}
