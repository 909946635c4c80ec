// A department system on Node.js that signs in with the unified identity platform (R-32, R-60;
// issue 7 item 5; docs/integration/zh-CN.md). Only node:http and the certified openid-client
// library: authorization code flow + PKCE (S256), state and nonce, private_key_jwt (or
// client_secret_basic) at the token endpoint, userinfo, RP-initiated and back-channel logout.
//
//   IDP_ISSUER=https://idp.example.gov.cn CLIENT_ID=... PRIVATE_JWK_FILE=client-key.json \
//   APP_URL=http://127.0.0.1:3000 node app.mjs
//
// Environment: IDP_ISSUER, CLIENT_ID, and either PRIVATE_JWK_FILE (an EC P-256 private JWK
// whose public half is registered with the client; recommended) or CLIENT_SECRET;
// APP_URL (this system's public base URL; register APP_URL/callback as the redirect URI,
// APP_URL/signed-out for logout, APP_URL/backchannel-logout for back-channel logout), PORT,
// HOST (default 127.0.0.1), SCOPE (default "openid profile realname").
// IDP_ALLOW_HTTP=1 permits an http:// issuer — for a loopback test platform only.
import { createServer } from 'node:http';
import { randomBytes, timingSafeEqual, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const env = process.env;
const ISSUER = new URL(required('IDP_ISSUER'));
const CLIENT_ID = required('CLIENT_ID');
const APP_URL = (env.APP_URL || `http://127.0.0.1:${env.PORT || 3000}`).replace(/\/$/, '');
const REDIRECT_URI = `${APP_URL}/callback`;
const SCOPE = env.SCOPE || 'openid profile realname';
const SECURE = APP_URL.startsWith('https://');
const COOKIE = 'dept_sid';
const TX_TTL_MS = 10 * 60 * 1000;

function required(name) {
  if (!env[name]) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return env[name];
}

// Token endpoint authentication: private_key_jwt for server-side systems (the platform's
// recommendation), client_secret_basic otherwise.
async function clientAuth() {
  if (env.PRIVATE_JWK_FILE) {
    const jwk = JSON.parse(readFileSync(env.PRIVATE_JWK_FILE, 'utf8'));
    const key = await webcrypto.subtle.importKey(
      'jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    return { auth: oidc.PrivateKeyJwt({ key, kid: jwk.kid }), metadata: {} };
  }
  const secret = required('CLIENT_SECRET');
  return { auth: oidc.ClientSecretBasic(secret), metadata: { client_secret: secret } };
}

const { auth, metadata } = await clientAuth();
const options = ISSUER.protocol === 'http:' && env.IDP_ALLOW_HTTP === '1'
  ? { execute: [oidc.allowInsecureRequests] } : undefined;
// Discovery once at start: endpoints, keys (JWKS fetched and cached by the library).
const config = await oidc.discovery(ISSUER, CLIENT_ID, metadata, auth, options);
const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const seenLogoutTokens = new Map(); // jti -> expiry (ms): a logout token is used once

// Server-side state, keyed by a random cookie. A real system keeps this in its session
// store (Redis, database); one process is enough for the example.
const transactions = new Map(); // browser id -> { state, nonce, verifier, at }
const sessions = new Map(); // browser id -> { claims, userinfo, idToken, csrf }

function levelOf(acr) {
  const m = /^urn:idp:acr:realname:(\d)$/.exec(acr || '');
  return m ? Number(m[1]) : 0;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function newBrowserId(res) {
  const id = randomBytes(32).toString('base64url');
  res.setHeader('Set-Cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax${SECURE ? '; Secure' : ''}`);
  return id;
}

function browserId(req, res) {
  const match = /(?:^|;\s*)dept_sid=([A-Za-z0-9_-]{32,})/.exec(req.headers.cookie || '');
  return match ? match[1] : newBrowserId(res);
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

function page(title, body) {
  return `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>${title}</title>` +
    `<body><h1>${title}</h1>${body}</body></html>`;
}

function redirect(res, location) {
  res.writeHead(302, { Location: location, 'Cache-Control': 'no-store' });
  res.end();
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) break;
  }
  return new URLSearchParams(body);
}

const routes = {
  'GET /': (req, res, id) => {
    const s = sessions.get(id);
    if (!s) {
      return send(res, 200, page('社保业务系统', '<p><a href="/login">使用统一身份认证登录</a></p>'));
    }
    const name = s.userinfo.name || s.claims.sub;
    return send(res, 200, page('社保业务系统',
      `<p id="greeting">您好，${escapeHtml(name)}（实名等级 ${levelOf(s.claims.acr)}）</p>` +
      `<p>sub: <code id="sub">${escapeHtml(s.claims.sub)}</code></p>` +
      `<form method="post" action="/logout"><input type="hidden" name="csrf_token" ` +
      `value="${s.csrf}"><button>退出登录</button></form>`));
  },

  // What the system received: ID token claims and userinfo (for the example's test).
  'GET /me': (req, res, id) => {
    const s = sessions.get(id);
    if (!s) return send(res, 401, JSON.stringify({ error: 'not signed in' }), 'application/json');
    return send(res, 200, JSON.stringify({
      sub: s.claims.sub, acr: s.claims.acr, amr: s.claims.amr, level: levelOf(s.claims.acr),
      userinfo: s.userinfo }), 'application/json');
  },

  'GET /login': async (req, res, id) => {
    const tx = { state: oidc.randomState(), nonce: oidc.randomNonce(),
                 verifier: oidc.randomPKCECodeVerifier(), at: Date.now() };
    transactions.set(id, tx);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: SCOPE, state: tx.state, nonce: tx.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(tx.verifier),
      code_challenge_method: 'S256' });
    return redirect(res, url.href);
  },

  'GET /callback': async (req, res, id) => {
    const tx = transactions.get(id);
    transactions.delete(id); // one use, whatever happens
    if (!tx || Date.now() - tx.at > TX_TTL_MS) {
      return send(res, 400, page('登录失败', '<p>登录请求已过期，请重新登录。</p>'));
    }
    // Checks state, the code's PKCE verifier, the ID token's signature, iss, aud, exp, nonce.
    const tokens = await oidc.authorizationCodeGrant(config, new URL(req.url, APP_URL), {
      pkceCodeVerifier: tx.verifier, expectedState: tx.state, expectedNonce: tx.nonce,
      idTokenExpected: true });
    const claims = tokens.claims();
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    // A new session id after sign-in (no session fixation).
    sessions.set(newBrowserId(res), { claims, userinfo, idToken: tokens.id_token,
                                      csrf: randomBytes(16).toString('hex') });
    return redirect(res, '/');
  },

  // RP-initiated logout: end the local session, then the platform's (with id_token_hint).
  'POST /logout': async (req, res, id) => {
    const s = sessions.get(id);
    const form = await readForm(req);
    const token = Buffer.from(form.get('csrf_token') || '');
    if (!s || token.length !== s.csrf.length || !timingSafeEqual(token, Buffer.from(s.csrf))) {
      return send(res, 400, page('请求无效', '<p>请从本系统页面退出。</p>'));
    }
    sessions.delete(id);
    return redirect(res, oidc.buildEndSessionUrl(config, {
      id_token_hint: s.idToken, post_logout_redirect_uri: `${APP_URL}/signed-out` }).href);
  },

  // Back-channel logout 1.0 §2.6: the platform ends sessions here (logout elsewhere, a ban,
  // a password change). No cookies, no CSRF token: the signed logout token is the proof.
  'POST /backchannel-logout': async (req, res) => {
    const invalid = (why) => {
      console.error(`back-channel logout refused: ${why}`);
      send(res, 400, JSON.stringify({ error: 'invalid_request' }), 'application/json');
    };
    const token = (await readForm(req)).get('logout_token');
    if (!token) return invalid('no logout_token');
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, {
        issuer: config.serverMetadata().issuer, audience: CLIENT_ID, maxTokenAge: '5m' }));
    } catch (err) {
      return invalid(err.code || err.message);
    }
    if (typeof claims.events?.[BACKCHANNEL_EVENT] !== 'object') return invalid('no event');
    if ('nonce' in claims) return invalid('nonce present');
    if (!claims.sid && !claims.sub) return invalid('neither sid nor sub');
    if (!claims.jti || seenLogoutTokens.has(claims.jti)) return invalid('jti missing or reused');
    const now = Date.now();
    for (const [jti, until] of seenLogoutTokens) if (until < now) seenLogoutTokens.delete(jti);
    seenLogoutTokens.set(claims.jti, now + 10 * 60 * 1000);
    for (const [id, s] of sessions) {
      if (claims.sid ? s.claims.sid === claims.sid : s.claims.sub === claims.sub) {
        sessions.delete(id);
      }
    }
    return send(res, 200, '', 'text/plain');
  },

  'GET /signed-out': (req, res) =>
    send(res, 200, page('已退出', '<p>您已退出登录。<a href="/">返回首页</a></p>')),
};

const server = createServer(async (req, res) => {
  const path = new URL(req.url, APP_URL).pathname;
  const handler = routes[`${req.method} ${path}`];
  if (!handler) return send(res, 404, page('未找到', ''));
  try {
    // The back-channel endpoint is called by the platform: no browser, no cookie.
    await handler(req, res, path === '/backchannel-logout' ? null : browserId(req, res));
  } catch (err) {
    // Never a stack trace to the browser; the log says what the platform answered.
    console.error(`${req.method} ${path}: ${err.name}: ${err.code || ''} ${err.message}`);
    if (!res.headersSent) send(res, 400, page('登录失败', '<p>请重新登录。</p>'));
  }
});

server.listen(Number(env.PORT || 3000), env.HOST || '127.0.0.1', () => {
  console.log(`department system on ${APP_URL} (issuer ${ISSUER.href})`);
});
