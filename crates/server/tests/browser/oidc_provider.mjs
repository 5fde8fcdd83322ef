// A real OpenID Connect provider (npm oidc-provider) for the tests of the OpenID login
// (crates/server/tests/suite/oidc.rs). It stands for a municipality's identity proxy in front
// of SPID and CIE: the person "logs in" at once as the account the test chose, and a test can
// make the next token answer misbehave.
//
//   node oidc_provider.mjs <redirect_uri> <client_secret>
//
// Listens on 127.0.0.1 (a free port) and prints `listening <issuer>` when ready.
// `GET /__test?account=<fiscal code>&mode=<normal|tamper|wrong-nonce>` sets who logs in next
// and how the next token answer is spoiled:
//   tamper      the ID token's payload names another person, its signature left as it was;
//   wrong-nonce the ID token is signed again, with the provider's own key, for another nonce.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const [redirectUri, clientSecret] = process.argv.slice(2);
if (!redirectUri || !clientSecret) {
  console.error('usage: node oidc_provider.mjs <redirect_uri> <client_secret>');
  process.exit(2);
}

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-1', alg: 'RS256', use: 'sig' };

const people = {
  RSSMRA80A01H501U: { given_name: 'Mario', family_name: 'Rossi' },
  VRDGNN75C41F205X: { given_name: 'Giovanna', family_name: 'Verdi', email: 'giovanna.verdi@example.org' },
};
const next = { account: 'RSSMRA80A01H501U', mode: 'normal' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'refettorio',
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  // The fiscal code as SPID gives it (`TINIT-…`), under the name the settings choose.
  claims: {
    openid: ['sub'],
    profile: ['given_name', 'family_name', 'fiscal_number'],
    email: ['email'],
  },
  conformIdTokenClaims: false,
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, fiscal_number: `TINIT-${sub}`, ...(people[sub] ?? {}) }),
  }),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: { devInteractions: { enabled: false } },
  cookies: { keys: ['test-only-cookie-key'] },
});

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const payloadOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

provider.use(async (ctx, nextMiddleware) => {
  if (ctx.path === '/__test') {
    next.account = ctx.query.account ?? next.account;
    next.mode = ctx.query.mode ?? 'normal';
    ctx.body = next;
    return;
  }
  const interaction = ctx.path.match(/^\/interaction\/[^/]+$/);
  if (interaction) {
    // The person logs in and consents at once, as the account the test chose.
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const grant = new provider.Grant({ accountId: next.account, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, {
      login: { accountId: next.account },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    ctx.respond = false;
    return;
  }
  await nextMiddleware();
  if (ctx.oidc?.route === 'token' && ctx.status === 200 && ctx.body?.id_token && next.mode !== 'normal') {
    const [header, , signature] = ctx.body.id_token.split('.');
    const payload = payloadOf(ctx.body.id_token);
    if (next.mode === 'tamper') {
      payload.fiscal_number = 'TINIT-VRDGNN75C41F205X';
      ctx.body = { ...ctx.body, id_token: `${header}.${b64(payload)}.${signature}` };
    } else if (next.mode === 'wrong-nonce') {
      payload.nonce = 'not-the-nonce-of-this-login';
      const signed = await new jose.SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
        .sign(privateKey);
      ctx.body = { ...ctx.body, id_token: signed };
    }
    next.mode = 'normal';
  }
});

server.on('request', provider.callback());
console.log(`listening ${issuer}`);
