// A real OpenID provider for the tests: `oidc-provider`, a certified implementation, with a
// few test people and a plain login page instead of a company's. Started by tests/e2e/sso.rs
// and the browser journey:
//
//   node tests/oidc/provider.mjs <redirect_uri>
//
// It listens on a free port of 127.0.0.1 and prints one line of JSON: {"issuer": "..."}.
//
// Two endpoints exist for the attack tests only (a real provider has neither):
//   POST /test/sign            {"claims": {...}, "key": "provider" | "stranger"}
//                              → a compact JWS signed with the provider's own key (an
//                                expired token, a token for another audience) or with a key
//                                the provider never published under the same key id (forged)
//   POST /test/next-id-token   {"id_token": "..."}
//                              → the next answer of the token endpoint carries this ID token
//                                instead of the one the provider made
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const redirectUri = process.argv[2];
if (!redirectUri) {
  console.error('usage: node provider.mjs <redirect_uri>');
  process.exit(2);
}

const CLIENT_ID = 'madoguchi';
const CLIENT_SECRET = 'madoguchi-test-client-secret';

// The people the provider knows, by login name. `groups` is the claim Madoguchi maps to roles.
const people = {
  alice: { email: 'alice@example.jp', email_verified: true, name: '佐藤 花子', groups: ['madoguchi-officers'] },
  root: { email: 'root@example.jp', email_verified: true, name: '管理 太郎', groups: ['madoguchi-admins', 'madoguchi-officers'] },
  carol: { email: 'carol@example.jp', email_verified: true, name: '監査 京子', groups: ['madoguchi-auditors'] },
  bob: { email: 'bob@example.jp', email_verified: true, name: '新人 次郎', groups: ['madoguchi-officers'] },
  eve: { email: 'eve@example.jp', email_verified: true, name: '営業 恵', groups: ['sales'] },
  // Claims an address a local account holds, without the provider having verified it.
  mallory: { email: 'officer@example.jp', email_verified: false, name: 'Mallory', groups: ['madoguchi-admins'] },
  // The same address, verified by the provider: the account it names is linked.
  linked: { email: 'officer@example.jp', email_verified: true, name: '担当 一郎', groups: ['madoguchi-officers'] },
};

const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
const stranger = await jose.generateKeyPair('RS256', { extractable: true });
void publicKey;

let nextIdToken = null;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [signingJwk] },
  // Claims of the granted scopes go into the ID token itself (Madoguchi reads no userinfo).
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['madoguchi-test-cookie-key'] },
  async findAccount(_ctx, id) {
    const person = people[id];
    if (!person) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...person }) };
  },
  // A first-party application: the company's staff are not asked to consent to it.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});
// Plain HTTP on loopback is what the tests have; the provider still checks everything else.
provider.proxy = false;

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const page = (uid, error) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider: sign in</title></head>
<body><main><h1>Test provider</h1>
${error ? `<p role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="login">Login</label> <input id="login" name="login" autocomplete="username">
<label for="password">Password</label> <input id="password" name="password" type="password">
<button type="submit">Sign in</button>
</form></main></body></html>`;

provider.use(async (ctx, next) => {
  if (ctx.path === '/test/sign' && ctx.method === 'POST') {
    const { claims, key } = JSON.parse(await readBody(ctx.req));
    const signer = key === 'stranger' ? stranger.privateKey : privateKey;
    ctx.type = 'text/plain';
    ctx.body = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid })
      .sign(signer);
    return;
  }
  if (ctx.path === '/test/next-id-token' && ctx.method === 'POST') {
    nextIdToken = JSON.parse(await readBody(ctx.req)).id_token;
    ctx.status = 204;
    return;
  }
  const interaction = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (interaction) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = page(details.uid);
      return;
    }
    if (ctx.method === 'POST' && interaction[2]) {
      const form = new URLSearchParams(await readBody(ctx.req));
      const login = form.get('login') ?? '';
      if (!people[login]) {
        ctx.type = 'html';
        ctx.status = 401;
        ctx.body = page(details.uid, 'Unknown login');
        return;
      }
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } }, {
        mergeWithLastSubmission: false,
      });
      ctx.respond = false;
      return;
    }
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && nextIdToken) {
    ctx.body = { ...ctx.body, id_token: nextIdToken };
    nextIdToken = null;
  }
});

server.on('request', provider.callback());
console.log(JSON.stringify({ issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
