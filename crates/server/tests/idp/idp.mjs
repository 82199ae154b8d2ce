// An OpenID Connect provider for graphdrive's tests, built on oidc-provider 9.13 (npm), which
// issues and signs every token; graphdrive trusts it with --trusted-issuer.
//   node idp.mjs [port]          (or IDP_PORT=...; default 0 = pick a free port)
// Prints exactly one line "ISSUER http://127.0.0.1:<port>" on stdout once listening.
// Env: IDP_AUDIENCE (default https://graph.microsoft.com), IDP_TENANT (tid claim),
//      IDP_JWT_TYP=JWT to emit header typ "JWT" (Entra-like) instead of "at+jwt".
//
// Token paths (no browser):
//  * client_credentials:  POST /token  grant_type=client_credentials&resource=<aud>&scope=...
//  * password (custom grant registered below, test-only ROPC):
//        POST /token  grant_type=password&username=alice&password=alice&resource=<aud>&scope=...
//  * authorization_code via the devInteractions login/consent forms (a browser flow)
// All return RS256 JWT access tokens (header typ "at+jwt") signed by a key published at /jwks.
// IDP_TLS_CERT + IDP_TLS_KEY (PEM paths) => serve HTTPS and use an https:// issuer.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const PORT = Number(process.argv[2] ?? process.env.IDP_PORT ?? 0);
const AUDIENCE = process.env.IDP_AUDIENCE ?? 'https://graph.microsoft.com';
const TENANT = process.env.IDP_TENANT ?? '9188040d-6c67-4c5b-b112-36a304b66dad';
// A resource that is not graphdrive's: its tokens have the wrong audience.
const OTHER_AUDIENCE = 'https://other.example';
const RS_SCOPES = 'User.Read Files.Read Files.ReadWrite Files.Read.All Files.ReadWrite.All Sites.Read.All';

// Static test directory.
const USERS = {
  alice: { password: 'alice', oid: '00000000-0000-0000-0000-0000000a11ce', upn: 'alice@contoso.test', name: 'Alice', groups: ['g-readers', 'g-writers'] },
  bob: { password: 'bob', oid: '00000000-0000-0000-0000-000000000b0b', upn: 'bob@contoso.test', name: 'Bob', groups: ['g-readers'] },
};
// accountId is the oid; devInteractions' login form posts a free-text "login" (no password check),
// so accept either the oid or the short user name there.
const lookupUser = (id) => USERS[id] ?? Object.values(USERS).find((x) => x.oid === id);
const CLIENTS = [
  { client_id: 'graphdrive-test', client_secret: 'graphdrive-test-secret', app_oid: '00000000-0000-0000-0000-00000000a990', roles: ['Files.ReadWrite.All'] },
  { client_id: 'graphdrive-readonly', client_secret: 'readonly-secret', app_oid: '00000000-0000-0000-0000-00000000a991', roles: ['Files.Read.All'] },
];

// Signing key: fresh RS256 key per process (tests fetch jwks_uri).
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };

const tls = process.env.IDP_TLS_CERT && process.env.IDP_TLS_KEY;
const server = tls
  ? https.createServer({ cert: fs.readFileSync(process.env.IDP_TLS_CERT), key: fs.readFileSync(process.env.IDP_TLS_KEY) })
  : http.createServer();
await new Promise((resolve) => server.listen(PORT, '127.0.0.1', resolve));
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;

const resourceServerInfo = (resource) => ({
  scope: RS_SCOPES,
  audience: resource,
  accessTokenTTL: 3600,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'RS256' } },
});

const provider = new Provider(issuer, {
  clients: CLIENTS.map(({ client_id, client_secret }) => ({
    client_id,
    client_secret,
    grant_types: ['client_credentials', 'password', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'client_secret_post', // observed: HTTP Basic is accepted as well
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: ['test-cookie-key-not-secret'] },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
  pkce: { required: () => false },
  // Entra access tokens carry typ "JWT"; oidc-provider uses RFC 9068 "at+jwt" unless overridden.
  formats: {
    customizers: {
      jwt: process.env.IDP_JWT_TYP ? (ctx, token, jwt) => { jwt.header = { typ: process.env.IDP_JWT_TYP }; } : undefined,
    },
  },
  features: {
    devInteractions: { enabled: true }, // login form for the (browser) auth-code flow
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE, // no resource param => Graph audience
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (resourceIndicator !== AUDIENCE && resourceIndicator !== OTHER_AUDIENCE) throw new errors.InvalidTarget();
        return resourceServerInfo(resourceIndicator);
      },
    },
  },
  async findAccount(ctx, sub) {
    const u = lookupUser(sub);
    if (!u) return undefined;
    return { accountId: sub, claims: () => ({ sub, name: u.name, preferred_username: u.upn, email: u.upn }) };
  },
  // Entra-shaped extra claims. (They cannot override iss/aud/sub/scope/exp; use formats.customizers.jwt for that.)
  async extraTokenClaims(ctx, token) {
    const base = { tid: TENANT, ver: '2.0' };
    if (token.kind === 'ClientCredentials') {
      const c = CLIENTS.find((x) => x.client_id === token.clientId);
      return { ...base, oid: c.app_oid, azp: token.clientId, appid: token.clientId, idtyp: 'app', roles: c.roles };
    }
    const u = lookupUser(token.accountId);
    return {
      ...base, oid: u.oid, upn: u.upn, preferred_username: u.upn, name: u.name, groups: u.groups,
      azp: token.clientId, appid: token.clientId, scp: token.scope ?? '',
    };
  },
});

// Test-only ROPC ("password") grant: user-delegated JWT access token without any browser step.
provider.registerGrantType('password', async (ctx) => {
  const { client, params } = ctx.oidc;
  const u = USERS[params.username];
  if (!u || u.password !== params.password) {
    throw new errors.InvalidGrant('invalid username or password');
  }
  const resource = params.resource ?? AUDIENCE;
  if (resource !== AUDIENCE && resource !== OTHER_AUDIENCE) throw new errors.InvalidTarget();
  const rs = new provider.ResourceServer(resource, resourceServerInfo(resource));
  // Accept Entra-style scopes too: "https://graph.microsoft.com/Files.Read" and ".../.default".
  const requested = (params.scope ?? '').split(' ').filter(Boolean)
    .map((s) => (s.startsWith(`${resource}/`) ? s.slice(resource.length + 1) : s))
    .flatMap((s) => (s === '.default' ? [...rs.scopes] : [s]));
  const scope = requested.filter((s) => rs.scopes.has(s)).join(' ') || 'User.Read';

  const grant = new provider.Grant({ accountId: u.oid, clientId: client.clientId });
  grant.addResourceScope(resource, scope);
  const grantId = await grant.save();

  const at = new provider.AccessToken({ accountId: u.oid, client, grantId, gty: 'password', scope });
  at.resourceServer = rs;
  const accessToken = await at.save();
  ctx.body = { access_token: accessToken, token_type: 'Bearer', expires_in: at.expiration, scope };
}, ['username', 'password', 'scope', 'resource'], ['resource']);

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description ?? ''));

server.on('request', provider.callback());
console.log(`ISSUER ${issuer}`);
