// A real OpenID provider (panva's oidc-provider, OpenID-certified) on loopback, for the stack
// rehearsal (tests/rehearsal.sh): it signs the admin API's access tokens (RS256 JWTs, keys
// published at its JWKS) that the rehearsal's API Gateway checks as the template's JWT authorizer
// does, and the console signs in against it in headless Chromium.
//
//   node tests/oidc/provider.mjs   (environment below; prints one JSON line when listening)
//
//   OIDC_HOST / OIDC_PORT   where to listen (127.0.0.1, 0 = any free port)
//   OIDC_AUDIENCE           the API's audience: the resource every access token is for;
//                           comma-separated for more APIs (the first is the default; a
//                           client asks for another with `resource`)
//   OIDC_CONSOLE_REDIRECT   the console's redirect URI (the stack's ConsoleUrl), comma-separated
//   OIDC_CONSOLE_CLIENT     the console's client id (a public client: PKCE, no secret)
//   OIDC_WORKFLOW_SECRET    the secret of the confidential client `workflow-admin`
//                           (client credentials; what a platform team's automation uses)
//
// People sign in through the provider's own development login page (any password). Who is
// who, and the claims the API reads (org, role), is ACCOUNTS below; a login it does not list
// gets no org. Clients: the console (authorization code + PKCE S256, required), and
// `workflow-admin` (client credentials, org `demo`, role admin), `workflow-expiring` (the
// same, with 2-second tokens: the rehearsal checks that an expired token is refused),
// `workflow-other` (org `other`: a valid token of another org) and `workflow-es256` (org
// `demo`, admin, tokens signed with ES256 instead of RS256) and `workflow-role-list` (its
// `role` is a list, which the API refuses).
//
// SIGUSR2 rotates the keys without a restart: a new RS256 key is published first in the
// JWKS (new tokens are signed with it), the old ones stay published; the provider prints
// {"rotated": "<new kid>"} once it serves the new set.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider, { errors } from 'oidc-provider';

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback === undefined) {
      console.error(`tests/oidc/provider.mjs: ${name} is not set`);
      process.exit(2);
    }
    return fallback;
  }
  return v;
};

const host = env('OIDC_HOST', '127.0.0.1');
const port = Number(env('OIDC_PORT', '0'));
const audiences = env('OIDC_AUDIENCE').split(',').map((a) => a.trim()).filter(Boolean);
const audience = audiences[0];
const consoleClient = env('OIDC_CONSOLE_CLIENT', 'wecom-console');
const redirects = env('OIDC_CONSOLE_REDIRECT').split(',').map((s) => s.trim()).filter(Boolean);
const workflowSecret = env('OIDC_WORKFLOW_SECRET');

// The organisations' people: login → claims the API reads.
const ACCOUNTS = {
  'admin@demo': { org: 'demo', role: 'admin', name: 'Demo Admin' },
  'viewer@demo': { org: 'demo', role: 'viewer', name: 'Demo Viewer' },
  'admin@other': { org: 'other', role: 'admin', name: 'Other Admin' },
};
// Confidential clients (client credentials): the automation's claims.
const MACHINES = {
  'workflow-admin': { org: 'demo', role: 'admin' },
  'workflow-expiring': { org: 'demo', role: 'admin' },
  'workflow-other': { org: 'other', role: 'admin' },
  'workflow-es256': { org: 'demo', role: 'admin' },
  // What a role mapper often makes: a list where the API reads one string.
  'workflow-role-list': { org: 'demo', role: ['admin'] },
};

// Fresh keys per run: tokens from an earlier run (or another issuer) never verify.
const rsaKey = (kid) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
};
const jwk = rsaKey(`rehearsal-${Date.now()}`);
const ecKey = {
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
  kid: `rehearsal-ec-${Date.now()}`,
  use: 'sig',
  alg: 'ES256',
};
let keys = [jwk, ecKey];

const server = await new Promise((resolve) => {
  const s = createServer();
  s.listen(port, host, () => resolve(s));
});
const issuer = `http://${host}:${server.address().port}`;

const makeProvider = () => new Provider(issuer, {
  clients: [
    {
      client_id: consoleClient,
      token_endpoint_auth_method: 'none',
      application_type: 'web',
      redirect_uris: redirects,
      post_logout_redirect_uris: redirects,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    ...Object.keys(MACHINES).map((id) => ({
      client_id: id,
      client_secret: workflowSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    })),
  ],
  jwks: { keys },
  cookies: { keys: [Buffer.from(jwk.kid).toString('base64')] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'admin'],
  claims: { openid: ['sub'], profile: ['name', 'org', 'role'] },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Every token is for the API (a real IdP: Keycloak's audience mapper, Auth0's `audience`).
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (!audiences.includes(resource)) throw new errors.InvalidTarget();
        const client = ctx.oidc.client?.clientId;
        return {
          scope: 'admin',
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: client === 'workflow-expiring' ? 2 : 600,
          jwt: { sign: { alg: client === 'workflow-es256' ? 'ES256' : 'RS256' } },
        };
      },
    },
  },
  async findAccount(ctx, id) {
    const who = ACCOUNTS[id];
    return {
      accountId: id,
      async claims() {
        return who ? { sub: id, name: who.name, org: who.org, role: who.role } : { sub: id };
      },
    };
  },
  // The claims the API reads, in the access token itself (what the JWT authorizer passes on).
  async extraTokenClaims(ctx, token) {
    if (token.kind === 'ClientCredentials') return MACHINES[token.clientId] || {};
    const who = ACCOUNTS[token.accountId];
    return who ? { org: who.org, role: who.role } : {};
  },
  renderError(ctx, out) {
    // The provider's words go in a page of its own, never into the console.
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>error</title><pre id="error">${String(out.error).replace(/[<&]/g, '')}</pre>`;
  },
});
let provider = makeProvider();
provider.proxy = false;
let handler = provider.callback();
server.on('request', (req, res) => handler(req, res));
process.stdout.write(`${JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` })}\n`);
process.on('SIGUSR2', () => {
  const fresh = rsaKey(`rotated-${Date.now()}`);
  keys = [fresh, ...keys];
  provider = makeProvider();
  provider.proxy = false;
  handler = provider.callback();
  process.stdout.write(`${JSON.stringify({ rotated: fresh.kid })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
