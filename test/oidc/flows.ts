/**
 * Getting real tokens from the test OpenID provider (test/oidc/provider.ts) the way an app does:
 * client credentials for an access token, and the authorization code flow (with PKCE, through the
 * provider's own login and consent pages, cookies carried by hand) for an ID token. Plain fetch, so
 * it runs in workerd as in Node.
 */

const FORM = { "Content-Type": "application/x-www-form-urlencoded" };

/** Settings the flows need: the provider's issuer, and the shared test client secret and redirect. */
export interface OidcTestProvider {
  issuer: string;
  clientSecret: string;
  redirectUri: string;
}

async function tokenEndpoint(
  provider: OidcTestProvider,
  body: Record<string, string>,
): Promise<Record<string, string>> {
  const response = await fetch(`${provider.issuer}/token`, {
    method: "POST",
    headers: FORM,
    body: new URLSearchParams(body),
  });
  const answer = (await response.json()) as Record<string, string>;
  if (!response.ok) throw new Error(`token endpoint: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** An access token (a JWT for the provider's one resource) for `clientId`, by client credentials. */
export async function clientCredentialsToken(provider: OidcTestProvider, clientId: string): Promise<string> {
  const answer = await tokenEndpoint(provider, {
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: provider.clientSecret,
    scope: "im",
  });
  return answer.access_token!;
}

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** A cookie jar of one: the provider's interaction and session cookies across redirects. */
class Jar {
  readonly #cookies = new Map<string, string>();
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      this.#cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
  }
  get header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

/**
 * Signs `sub` in at the provider through its login and consent pages and returns the ID token its
 * token endpoint issues to `clientId` (signed with the client's registered algorithm).
 */
export async function loginIdToken(provider: OidcTestProvider, clientId: string, sub: string): Promise<string> {
  return (await signIn(provider, clientId, sub)).idToken;
}

/** What a sign-in (or a refresh) gives the app: an ID token, and the refresh token for the next one. */
export interface SignedIn {
  idToken: string;
  refreshToken: string;
}

/**
 * A silent refresh, as every provider's SDK does it: the refresh token in, a new ID token (new `iat`,
 * the same sign-in's `auth_time`) and the next refresh token out.
 */
export async function refreshIdToken(
  provider: OidcTestProvider,
  clientId: string,
  refreshToken: string,
): Promise<SignedIn> {
  const answer = await tokenEndpoint(provider, {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: clientId,
    client_secret: provider.clientSecret,
  });
  return { idToken: answer.id_token!, refreshToken: answer.refresh_token ?? refreshToken };
}

/** `loginIdToken`, keeping the refresh token too. */
export async function signIn(provider: OidcTestProvider, clientId: string, sub: string): Promise<SignedIn> {
  const jar = new Jar();
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const authorize = new URL(`${provider.issuer}/auth`);
  for (const [name, value] of Object.entries({
    client_id: clientId,
    response_type: "code",
    scope: "openid",
    redirect_uri: provider.redirectUri,
    code_challenge: challenge,
    code_challenge_method: "S256",
    nonce: crypto.randomUUID(),
    state: crypto.randomUUID(),
  })) {
    authorize.searchParams.set(name, value);
  }
  let url = authorize.href;
  // Follow redirects by hand, answering the login and then the consent page as a user would.
  for (let step = 0; step < 12; step++) {
    if (url.startsWith(provider.redirectUri)) {
      const code = new URL(url).searchParams.get("code");
      if (!code) throw new Error(`no code in the redirect: ${url}`);
      const answer = await tokenEndpoint(provider, {
        grant_type: "authorization_code",
        code,
        redirect_uri: provider.redirectUri,
        code_verifier: verifier,
        client_id: clientId,
        client_secret: provider.clientSecret,
      });
      return { idToken: answer.id_token!, refreshToken: answer.refresh_token! };
    }
    let response = await fetch(url, { redirect: "manual", headers: { Cookie: jar.header } });
    jar.take(response);
    if (response.status === 200 && url.includes("/interaction/")) {
      const page = await response.text();
      const prompt: Record<string, string> = page.includes('name="login"')
        ? { prompt: "login", login: sub, password: "x" }
        : { prompt: "consent" };
      response = await fetch(url, {
        method: "POST",
        redirect: "manual",
        headers: { ...FORM, Cookie: jar.header },
        body: new URLSearchParams(prompt),
      });
      jar.take(response);
    }
    const location = response.headers.get("Location");
    if (!location) throw new Error(`stuck at ${url}: ${response.status} ${await response.text()}`);
    await response.body?.cancel();
    url = new URL(location, url).href;
  }
  throw new Error("too many redirects");
}
