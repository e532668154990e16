/**
 * The JSON Schemas of the HTTP contract, and the small validator that enforces them.
 *
 * These objects are plain JSON Schema (2020-12), which is what OpenAPI 3.1 embeds, so `openapi.ts`
 * publishes exactly the schemas the routes validate with: the document cannot drift from the code.
 * The validator supports the subset used here (object, array, string, integer, boolean, enums,
 * bounds, patterns, required, additionalProperties: false). Each constrained field's `description`
 * is phrased as a rule ("a whole number of seconds from 60 to 3600"), so it also makes the error
 * message: "<field> must be <description>."
 */

import { LIMITS, NIM } from "./constants.ts";
import { ERROR_CODES } from "./contract.ts";

/** The JSON Schema subset used by the contract. */
export type Schema =
  | {
      type: "string";
      description?: string;
      minLength?: number;
      maxLength?: number;
      pattern?: string;
      enum?: readonly string[];
    }
  | { type: "integer"; description?: string; minimum?: number; maximum?: number }
  | { type: "boolean"; description?: string }
  | { type: "array"; description?: string; items: Schema; minItems?: number; maxItems?: number }
  | {
      type: "object";
      description?: string;
      properties: Record<string, Schema>;
      required?: readonly string[];
      additionalProperties?: false;
    };

const patterns = new Map<string, RegExp>();
/** Patterns are compiled once per isolate: the uid check runs on every token request. */
function compiled(pattern: string): RegExp {
  let regex = patterns.get(pattern);
  if (!regex) {
    regex = new RegExp(pattern, "u");
    patterns.set(pattern, regex);
  }
  return regex;
}

/** Validates `value` against `schema`; returns the first problem as a sentence, or undefined. */
export function validate(schema: Schema, value: unknown, name = "value"): string | undefined {
  const rule = () => `${name} must be ${schema.description ?? `of type ${schema.type}`}.`;
  switch (schema.type) {
    case "string":
      if (typeof value !== "string") return rule();
      if (schema.minLength !== undefined && value.length < schema.minLength) return rule();
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return rule();
      if (schema.pattern !== undefined && !compiled(schema.pattern).test(value)) return rule();
      if (schema.enum && !schema.enum.includes(value)) return rule();
      return undefined;
    case "integer":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) return rule();
      if (schema.minimum !== undefined && value < schema.minimum) return rule();
      if (schema.maximum !== undefined && value > schema.maximum) return rule();
      return undefined;
    case "boolean":
      return typeof value === "boolean" ? undefined : rule();
    case "array":
      if (!Array.isArray(value)) return rule();
      if (schema.minItems !== undefined && value.length < schema.minItems) return rule();
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return rule();
      for (let i = 0; i < value.length; i++) {
        const problem = validate(schema.items, value[i], `${name}[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return rule();
      const record = value as Record<string, unknown>;
      if (schema.additionalProperties === false) {
        const unknown = Object.keys(record).filter((key) => !Object.hasOwn(schema.properties, key));
        if (unknown.length > 0) return `Unknown field(s): ${unknown.slice(0, 5).join(", ")}.`;
      }
      for (const [key, property] of Object.entries(schema.properties)) {
        const present = Object.hasOwn(record, key);
        if (!present && schema.required?.includes(key)) return `${key} must be ${property.description ?? "given"}.`;
        if (present) {
          const problem = validate(property, record[key], key);
          if (problem) return problem;
        }
      }
      return undefined;
    }
  }
}

// ---- requests ----

/** uid: as session/verify and the admin API accept it. */
export const uidSchema: Schema = {
  type: "string",
  minLength: 1,
  maxLength: LIMITS.maxUidLength,
  pattern: "^[^\\u0000-\\u001f\\u007f]+$",
  description: `1 to ${LIMITS.maxUidLength} characters without control characters`,
};

/** accid as operators may give it. */
export const accidSchema: Schema = {
  type: "string",
  pattern: NIM.lowercaseAccidPattern.source,
  description: "1 to 32 lowercase letters, digits or _ @ . -",
};

/** `POST /v1/token` body, with the live ttl range. */
export function tokenRequestSchema(ttl: { min: number; max: number }): Schema {
  return {
    type: "object",
    additionalProperties: false,
    properties: {
      ttl: {
        type: "integer",
        minimum: ttl.min,
        maximum: ttl.max,
        description: `a whole number of seconds from ${ttl.min} to ${ttl.max}`,
      },
    },
  };
}

/** `PUT /admin/v1/accounts/{uid}` body. */
export const bindRequestSchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["accid"],
  properties: { accid: accidSchema },
};

/** `POST /admin/v1/accounts/{uid}/block` body. */
export const blockRequestSchema: Schema = {
  type: "object",
  additionalProperties: false,
  properties: { kick: { type: "boolean", description: "true or false (default true: disconnect live sessions)" } },
};

/** A body that must be empty or `{}`. */
export const emptyRequestSchema: Schema = { type: "object", additionalProperties: false, properties: {} };

/** One import row. */
export const importRowSchema: Schema = {
  type: "object",
  description: "an object {uid, accid}",
  additionalProperties: false,
  required: ["uid", "accid"],
  properties: { uid: uidSchema, accid: accidSchema },
};

/** The import body (JSON array form; NDJSON carries the same rows one per line). */
export const importRequestSchema: Schema = {
  type: "array",
  description: `an array of 1 to ${LIMITS.maxImportRows} rows {uid, accid}`,
  minItems: 1,
  maxItems: LIMITS.maxImportRows,
  items: { type: "object", properties: {}, description: "an object {uid, accid}" },
};

// ---- responses ----

const ms = (description: string): Schema => ({ type: "integer", minimum: 0, description });

/** `POST /v1/token` 200. */
export const tokenResponseSchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["accid", "token", "appKey", "curTime", "ttl", "expiresAt", "serverTime", "refreshAfter"],
  properties: {
    accid: { type: "string", pattern: NIM.accidPattern.source, description: "the NetEase IM account id" },
    token: {
      type: "string",
      pattern: "^[A-Za-z0-9+/]+={0,2}$",
      description: "the dynamic token (base64 of {signature, curTime, ttl})",
    },
    appKey: { type: "string", minLength: 1, description: "the app key the token was signed for" },
    curTime: ms("when the token was signed (Unix ms)"),
    ttl: { type: "integer", minimum: 1, description: "lifetime in seconds" },
    expiresAt: ms("curTime + ttl * 1000"),
    serverTime: ms("the Worker's clock (Unix ms)"),
    refreshAfter: ms("fetch a new token after this time (Unix ms)"),
  },
};

/** Every error body. */
export const errorSchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["error", "message"],
  properties: {
    error: { type: "string", enum: ERROR_CODES, description: "a stable error code" },
    message: { type: "string", description: "a human-readable explanation" },
  },
};

/** `GET /healthz`. */
export const healthSchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["status"],
  properties: {
    status: { type: "string", enum: ["ok", "misconfigured"], description: "ok or misconfigured" },
    missing: { type: "array", items: { type: "string" }, description: "names of missing settings" },
    invalid: { type: "array", items: { type: "string" }, description: "names of invalid settings" },
  },
};

/** An account in the admin API. */
export const adminAccountSchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["uid", "accid", "status", "createdAt", "updatedAt", "generation"],
  properties: {
    uid: uidSchema,
    accid: { type: "string", pattern: NIM.accidPattern.source, description: "the NetEase accid" },
    status: { type: "string", enum: ["active", "blocked"], description: "active or blocked" },
    createdAt: ms("first bound (Unix ms)"),
    updatedAt: ms("last changed (Unix ms)"),
    generation: { type: "integer", minimum: 0, description: "rotations so far" },
    outcome: { type: "string", enum: ["bound", "already_bound"], description: "what a bind did (PUT only)" },
    previousAccid: { type: "string", description: "the accid before a rotation (rotate only)" },
  },
};

const outcomes = ["bound", "already_bound", "conflict", "invalid"] as const;
const count: Schema = { type: "integer", minimum: 0 };

/** `POST /admin/v1/accounts/import` 200. */
export const importResponseSchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["counts", "results"],
  properties: {
    counts: {
      type: "object",
      additionalProperties: false,
      required: outcomes,
      properties: { bound: count, already_bound: count, conflict: count, invalid: count },
    },
    results: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["line", "outcome"],
        properties: {
          line: { type: "integer", minimum: 1, description: "the row's position, from 1" },
          outcome: { type: "string", enum: outcomes, description: "what happened to the row" },
          uid: { type: "string" },
          accid: { type: "string" },
          message: { type: "string" },
        },
      },
    },
  },
};

/** `POST /v1/nim/login-callback` 200. */
export const loginDecisionSchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["errCode"],
  properties: {
    errCode: { type: "integer", minimum: 0, maximum: 1, description: "0 allows the login, 1 rejects it" },
    responseCode: { type: "integer", minimum: 20000, maximum: 20099, description: "why it was rejected" },
  },
};
