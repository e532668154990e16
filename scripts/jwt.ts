/**
 * `npm run -s jwt -- <uid> [ttl-seconds]`: prints a development app-session JWT for <uid>, signed
 * HS256 with SESSION_JWT_SECRET from .dev.vars (which `npm start` writes). Prints only the token, so it
 * can be used as `$(npm run -s jwt -- alice)`. Never point this at a production secret.
 */

import { SignJWT } from "jose";
import { readDevVars } from "./dev-vars.ts";

const [uid, ttlArg] = process.argv.slice(2);
if (!uid) {
  console.error("usage: npm run -s jwt -- <uid> [ttl-seconds]");
  process.exit(2);
}
const ttl = ttlArg === undefined ? 3600 : Number(ttlArg);
if (!Number.isInteger(ttl) || ttl <= 0) {
  console.error("ttl-seconds must be a positive whole number");
  process.exit(2);
}
const vars = readDevVars();
const secret = vars.SESSION_JWT_SECRET;
if (!secret) {
  console.error("SESSION_JWT_SECRET is not set in .dev.vars: run `npm start` once, which writes it");
  process.exit(2);
}
let jwt = new SignJWT({})
  .setProtectedHeader({ alg: "HS256", typ: "JWT" })
  .setSubject(uid)
  .setIssuedAt()
  .setExpirationTime(`${ttl}s`);
if (vars.SESSION_JWT_ISSUER) jwt = jwt.setIssuer(vars.SESSION_JWT_ISSUER);
if (vars.SESSION_JWT_AUDIENCE) jwt = jwt.setAudience(vars.SESSION_JWT_AUDIENCE);
console.log(await jwt.sign(new TextEncoder().encode(secret)));
