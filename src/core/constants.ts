/** What `GET /` says this service is (the version is package.json's; a test keeps them equal). */
export const SERVICE = {
  name: "nim-token-worker",
  version: "0.1.0",
  description: "Issues NetEase IM (CommsEase) dynamic login tokens and NERTC tokens at the edge.",
} as const;

/**
 * Every tunable number in one place, so a reviewer can see the service's limits at a glance.
 * Values that operators may change are settings in `config.ts`; these are fixed by design.
 */
export const LIMITS = {
  /** Minimum length of HMAC keys we accept (HS256 session secret, ACCID_SECRET): 256 bits. */
  minSecretBytes: 32,
  /** Upper bound for any configured ttl: one day. NetEase publishes no maximum; short is safer. */
  maxTtlSeconds: 86_400,
  /** Longest NERTC token lifetime: NERTC takes a ttl below one day. */
  maxRtcTtlSeconds: 86_399,
  /** Longest NERTC permission key lifetime: NetEase takes 1 s to 24 h. */
  maxPermKeyTtlSeconds: 86_400,
  /** Channel grants in RTC_CHANNEL_POLICY, and in a session's channel claim. */
  maxChannelGrants: 32,
  /** Chatroom link answers an isolate keeps per app, the oldest dropped first. */
  chatroomLinksKept: 1000,
  /** The largest METRICS_SAMPLE_INTERVAL: beyond it a day's counts of a small app would be mostly noise. */
  maxMetricsSampleInterval: 1000,
  /** Longest channel pattern in a grant (a 64-character name plus `*` and `{uid}`). */
  maxChannelPatternLength: 128,
  /**
   * Longest accepted uid (the session JWT's `sub`), in UTF-8 bytes. KV keys are at most 512 bytes and
   * a uid is part of its record's key (`uid:<uid>`), so the rule is stated in bytes: every uid it
   * accepts works end to end. 256 ASCII characters, about 85 CJK characters.
   */
  maxUidBytes: 256,
  /** Largest request body we read. */
  maxBodyBytes: 8 * 1024,
  /** Largest body of an account import. */
  maxImportBodyBytes: 256 * 1024,
  /**
   * Rows per import request. The request itself only reads KV in bulk (100 keys per operation);
   * each bound row is one call to its uid's account object, which does that row's writes, so a
   * request stays far below the subrequest limit of the Workers Paid plan (the Free plan's 50 is
   * about 40 rows).
   */
  maxImportRows: 400,
  /** Audit entries kept per uid (the oldest go first), and the most one history page returns. */
  historyEntriesKept: 1000,
  historyPageMax: 100,
  /** Longest session JWT we parse; longer headers are refused before any crypto. */
  maxJwtLength: 8192,
  /** Largest JWKS document we read (real ones are a few KB). */
  maxJwksBytes: 64 * 1024,
  /**
   * The longest a first-time sign-up waits for its creation turn (NIM_CREATE_RATE) before it is
   * answered 503 with a Retry-After that brings it back for that turn: a few seconds, well within a client's patience.
   */
  maxCreateWaitMs: 3_000,
  /**
   * How far ahead the pacer books turns for refused sign-ups (each comes back for its own turn):
   * a minute of the queue. Past it, a sign-up is refused without a turn until the queue is shorter.
   */
  createBookingHorizonMs: 60_000,
  /** How late a booked sign-up may come back and still keep its turn (clients retry with jitter). */
  createBookingGraceMs: 5_000,
  /**
   * Booked creation turns one client network (an IPv4 address, an IPv6 /64) may hold at once: a
   * turn is spent whether or not its caller returns, so this bounds what turns booked and never
   * claimed (cheap identities, anonymous sign-ins) can hold back. Many users behind one carrier
   * address still get turns; past this they queue again when they return, as before booking existed.
   */
  createBookingsPerNetwork: 10,
  /** NIM_CREATE_RATE's ceiling: NetEase sells higher caps than its default ~100/s, not unbounded ones. */
  maxCreateRate: 10_000,
  /** Issuers in SESSION_ISSUERS: enough for a migration plus staff and customers, few enough to read. */
  maxSessionIssuers: 8,
  /** NetEase apps one deployment serves (NIM_APPS). */
  maxApps: 32,
  /** Longest dynamic token we decode (real ones are about 120 characters). */
  maxDynamicTokenLength: 512,
  /**
   * Furthest ahead NIM_APP_SECRET_PREVIOUS_UNTIL may be: a day, the longest ttl this service can
   * issue, so every token signed before a rotation can live out its ttl and no longer.
   */
  maxPreviousSecretTokenMs: 24 * 60 * 60_000,
  /** KV keys read per bulk `get` (KV's own maximum). */
  kvBulkReadKeys: 100,
  /** Import rows bound at the same time (each is one call to that uid's object). */
  importConcurrency: 8,
  /** RTC uid candidates tried per uid before giving up (each is taken with probability about n / 2^53). */
  rtcUidAttempts: 8,
  /** Derived accids tried before giving up (one is taken only by a deliberate bind of a stock accid). */
  accidGenerationAttempts: 8,
  /** Attempts per NetEase server API call: NetEase's own SDKs retry once, on the next domain. */
  nimApiAttempts: 2,
  /** Characters of a foreign error text (an exception, NetEase's `desc`) kept in a log detail. */
  logDetailChars: 120,
  /** Longest X-Request-Id we keep; a longer or malformed one is replaced. */
  maxRequestIdLength: 128,
} as const;

/** Token lifetimes (seconds) when their settings are unset. */
export const DEFAULT_TTLS = {
  /** TOKEN_TTL_DEFAULT. */
  im: 600,
  /** TOKEN_TTL_MAX. */
  imMax: 3600,
  /** TOKEN_TTL_MIN and RTC_TOKEN_TTL_MIN. */
  min: 60,
  /** RTC_TOKEN_TTL_DEFAULT: short, because a block does not revoke an RTC token already issued. */
  rtc: 600,
  /** RTC_PERM_KEY_TTL: a permission key's lifetime when no grant sets its own. */
  rtcPermKey: 3600,
} as const;

/** NIM_CREATE_RATE's default: first-time creations a second, below NetEase's cap of about 100. */
export const DEFAULT_CREATE_RATE = 80;

/**
 * The name of the deployment's first NetEase app (today its only one). Its accounts keep the KV keys
 * and account-object names they always had; another app's carry its name.
 */
export const DEFAULT_APP = "default";

export const TIMING = {
  /** How long an isolate keeps a chatroom's link addresses for one place (`chatroom/links.ts`). */
  chatroomLinksTtlMs: 30_000,
  /** Clock tolerance for `nbf`, `iat` and `exp` of session JWTs. */
  jwtClockToleranceSeconds: 30,
  /** How long a JWKS is trusted before it is fetched again. */
  jwksCacheMaxAgeMs: 5 * 60_000,
  /**
   * Minimum time between two JWKS fetches, whatever the first one's outcome: random `kid`s or a
   * failing provider cannot make the Worker fetch more often.
   */
  jwksCooldownMs: 30_000,
  /** Abort a JWKS fetch after this long. */
  jwksFetchTimeoutMs: 3_000,
  /**
   * Abort one attempt of a NetEase server API call after this long. A call makes at most two
   * attempts (primary, then a backup), so a first-time token waits at most about 5 s.
   */
  nimApiTimeoutMs: 2_500,
  /** A NetEase base that failed is skipped for this long (in that isolate). */
  nimBaseCooldownMs: 30_000,
  /** How long an isolate trusts an account record it read: KV's own eventual-consistency window. */
  accountCacheTtlMs: 60_000,
  /** How long an isolate reuses its last NetEase readiness probe (so polling /readyz cannot exhaust NetEase's rate). */
  readyProbeCacheMs: 30_000,
  /** A readiness check that takes longer than this has failed. */
  readyCheckTimeoutMs: 3_000,
  /** When the client should refresh, as a fraction of the token's lifetime. */
  refreshFraction: 0.8,
  /** Retry-After (seconds) sent when NetEase is unavailable. */
  upstreamRetryAfterSeconds: 5,
  /** How long NetEase refuses an app that went over its rate (code 416): about 10 s. Also its Retry-After. */
  nimRateLimitBlockSeconds: 10,
  /** Retry-After (seconds) when KV is unavailable. */
  storageRetryAfterSeconds: 2,
  /** Retry-After (seconds) when the JWKS cannot be fetched and no keys are cached. */
  sessionKeysRetryAfterSeconds: 5,
  /** Allowed difference between our clock and a dynamic token's curTime in the login callback. */
  callbackTokenSkewMs: 60_000,
  /** How long an account's Durable Object keeps an operation's result for a repeated X-Request-Id. */
  operationResultRetentionMs: 24 * 60 * 60_000,
  /** When a KV write after a committed change fails, the object retries it this much later (an alarm). */
  kvResyncDelayMs: 5_000,
  /** The alarm's next try when its own attempt left KV or a rollback unfinished. */
  kvResyncRetryMs: 30_000,
  /** The rate limiters' period (wrangler.jsonc `simple.period`); also the Retry-After of a 429. */
  rateLimitPeriodSeconds: 60,
} as const;

export const CACHE_SIZES = {
  /** Account records kept per isolate (a few hundred bytes each). */
  accounts: 10_000,
} as const;

/**
 * NERTC's channel name rule: 1 to 64 of `a-z A-Z 0-9`, space and ``!#$%&()+-:;<=.>?@[]^_{|}~,``
 * (ASCII only, so 64 characters are 64 bytes).
 */
export const RTC_CHANNEL_NAME = /^[a-zA-Z0-9 !#$%&()+\-:;<=.>?@[\]^_{|}~,]{1,64}$/;

/**
 * NERTC permission-key privilege bits, as NetEase numbers them (the key's `privilege` is their sum,
 * 1 to 63), and the group names a channel grant may use besides them.
 */
export const RTC_PRIVILEGES = {
  sendAudio: 1,
  sendVideo: 2,
  receiveAudio: 4,
  receiveVideo: 8,
  create: 16,
  join: 32,
  send: 1 | 2,
  receive: 4 | 8,
  all: 63,
} as const;

/** A privilege name a channel grant may list. */
export type RtcPrivilegeName = keyof typeof RTC_PRIVILEGES;

export const NIM = {
  /** NetEase accid rules: at most 32 characters of letters, digits and `_ @ . -`. */
  accidPattern: /^[A-Za-z0-9_@.-]{1,32}$/,
  /** Server API CheckSum validity window (NetEase accepts a CheckSum for 5 minutes). */
  checkSumWindowSeconds: 300,
  /** Accids this service binds or derives: the documented charset, lowercase as NetEase advises. */
  lowercaseAccidPattern: /^[a-z0-9_@.-]{1,32}$/,
  /** getUinfos takes at most this many accids per call. */
  getUinfosBatch: 200,
  /** A chatroom answer passes on at most this many link addresses (NetEase gives a few). */
  maxLinkAddresses: 16,
  /** Login-callback CurTime (ms) must be within this many ms of our clock. */
  callbackWindowMs: 5 * 60_000,
  /** The accid /readyz asks NetEase about: any value works, NetEase only has to accept the signed call. */
  readyProbeAccid: "nim_token_worker_probe",
  /**
   * The login-callback event types: 36 an IM login, 40 a QChat (圈组) login, with the same
   * `fromAccount`, `authType` and `token` fields. Every other event type is not ours to veto.
   */
  loginEventTypes: [36, 40] as readonly number[],
  /** NetEase's two server APIs (NIM_API_VERSION): v1 form posts, v2 REST (IM 10.x). */
  apiVersions: ["v1", "v2"] as const,
} as const;

/** Which of NetEase's server APIs to speak. */
export type NimApiVersion = (typeof NIM.apiVersions)[number];

/** Bounds of a file import (src/imports/). */
export const IMPORT = {
  /** The longest row (a line of NDJSON, an element of the array), in bytes. */
  maxRowBytes: 1024,
  /** Rows per Workflow step: a step's NetEase checks (5 getUinfos of 200) and binds stay well in a step's limits. */
  rowsPerStep: 1000,
  /**
   * A step's rows bound at once: each bind is a call to the row's own object, so they do not wait
   * on one another, and a step's wall time is its slowest calls over this.
   */
  bindConcurrency: 32,
  /**
   * The most rows one import takes: a Workflow runs at most 10,000 steps by default, and an import
   * spends one per `rowsPerStep` rows and one to start.
   */
  maxRows: 9_990_000,
} as const;
