/**
 * A local receiver of the Worker's account-change events: verifies each delivery with the Standard
 * Webhooks reference library (npm `standardwebhooks`), as an app's backend would, and keeps what it
 * got. `npm start` runs one on http://127.0.0.1:8789 (WEBHOOK_PORT) and points EVENTS_WEBHOOK_URL at
 * it; the tests start their own.
 *
 * It answers as it is told, to try the Worker's retries and dead-letter queue by hand or in a test:
 *   POST /mode/ok     every delivery answered 204 (the start)
 *   POST /mode/fail   every delivery answered 500: the Worker tries again later
 *   POST /mode/hang   no answer at all: each attempt times out, and the event ends on the dead-letter queue
 *   POST /mode/<mode>?uid=<uid>   the same for one uid's events only (tests running side by side)
 *   GET  /deliveries  every delivery so far, oldest first, with whether its signature verified
 *                     (`?uid=` for one uid's)
 * A delivery whose signature does not verify is answered 400, whatever the mode.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { text } from "node:stream/consumers";
import { Webhook } from "standardwebhooks";

/** How the receiver answers deliveries. */
export type ReceiverMode = "ok" | "fail" | "hang";

/** One delivery attempt the receiver got. */
export interface Delivery {
  /** `webhook-id`: the event's id, the same on every attempt. */
  id: string;
  timestamp: string;
  /** The Standard Webhooks library accepted the signature (and the timestamp). */
  verified: boolean;
  /** The event, as parsed by the library (or the raw body when it did not verify). */
  event: unknown;
  /** What the receiver answered: 204, 500, or 0 for no answer. */
  answered: number;
  /** When it arrived (ms). */
  at: number;
}

/** A running receiver. */
export interface WebhookReceiver {
  /** Where the Worker POSTs (EVENTS_WEBHOOK_URL). */
  url: string;
  /** The receiver's own address, for /mode and /deliveries. */
  base: string;
  deliveries: Delivery[];
  setMode(mode: ReceiverMode): void;
  dispose(): Promise<void>;
}

/** The request's body as text (Node's own reader, `node:stream/consumers`). */
const read = (request: IncomingMessage): Promise<string> => text(request);

/** The uid an event is about, if it says. */
function uidOf(event: unknown): string | undefined {
  const uid = (event as { data?: { uid?: unknown } } | undefined)?.data?.uid;
  return typeof uid === "string" ? uid : undefined;
}

/** Starts a receiver that verifies with `secret` (`whsec_…`) on `port` (0: any free port) of 127.0.0.1. */
export async function startWebhookReceiver(options: {
  secret: string;
  port?: number;
  /** Called with each delivery as it arrives (npm start prints a line). */
  onDelivery?: (delivery: Delivery) => void;
}): Promise<WebhookReceiver> {
  const webhook = new Webhook(options.secret);
  const deliveries: Delivery[] = [];
  let mode: ReceiverMode = "ok";
  const modes = new Map<string, ReceiverMode>();
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://receiver");
    const path = url.pathname;
    if (request.method === "POST" && path.startsWith("/mode/")) {
      const wanted = path.slice("/mode/".length);
      if (wanted !== "ok" && wanted !== "fail" && wanted !== "hang") {
        response.writeHead(400).end("mode: ok, fail or hang");
        return;
      }
      const uid = url.searchParams.get("uid");
      if (uid === null) mode = wanted;
      else modes.set(uid, wanted);
      response.writeHead(204).end();
      return;
    }
    if (request.method === "GET" && path === "/deliveries") {
      const uid = url.searchParams.get("uid");
      const chosen = uid === null ? deliveries : deliveries.filter((d) => uidOf(d.event) === uid);
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(chosen));
      return;
    }
    if (request.method !== "POST" || path !== "/events") {
      response.writeHead(404).end();
      return;
    }
    const body = await read(request);
    const headers = {
      "webhook-id": String(request.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(request.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(request.headers["webhook-signature"] ?? ""),
    };
    let verified = false;
    let event: unknown = body;
    try {
      event = webhook.verify(body, headers);
      verified = true;
    } catch {
      // Kept unverified: parsed if it is JSON, so a test can still find it by its uid.
      try {
        event = JSON.parse(body);
      } catch {
        // kept as text
      }
    }
    const uid = uidOf(event);
    const now = (uid === undefined ? undefined : modes.get(uid)) ?? mode;
    const answered = !verified ? 400 : now === "ok" ? 204 : now === "fail" ? 500 : 0;
    const delivery: Delivery = {
      id: headers["webhook-id"],
      timestamp: headers["webhook-timestamp"],
      verified,
      event,
      answered,
      at: Date.now(),
    };
    deliveries.push(delivery);
    options.onDelivery?.(delivery);
    if (answered !== 0) response.writeHead(answered).end();
    // "hang": the request is left open until the Worker gives up on it.
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/events`,
    base,
    deliveries,
    setMode: (next) => {
      mode = next;
    },
    dispose: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
