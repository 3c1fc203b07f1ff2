// A real OAuth2/OIDC authorization server (oidc-provider) for tether's integration tests.
//
//   PORT=9400 REDIRECT_URIS=http://127.0.0.1:8080/api/v3/toolkits/auth/callback AT_TTL=3600 \
//     node provider.mjs
//
// Issuer: http://127.0.0.1:<PORT>. Clients "tether-post" (client_secret_post) and "tether-basic"
// (client_secret_basic), secrets "tether-post-secret" / "tether-basic-secret". PKCE S256 required.
// Login and consent use oidc-provider's devInteractions (any login, any password); abort at
// /interaction/<uid>/abort sends the user back with error=access_denied.
//
// Test hooks, outside the OAuth paths:
//   GET  /__stats  -> {grants:{authorization_code:n, refresh_token:n},
//                      issued:{access_tokens:[...], refresh_tokens:[...]}, faulted:{mode:n}, mode}
//   POST /__mode   {"token":"normal"|"hang"|"500"|"garbage"} -> how the token endpoint answers
//   POST /__forget {"access_token":"..."} -> drops that access token only (its grant and refresh
//                  token stay), so the next use of it at /me is a 401: {forgotten:bool}
//   /__stats also counts userinfo answers: userinfo:{ok:n, refused:n}
//
// Access tokens are refused at /me from the second they expire (clockTolerance 0; oidc-provider's
// default would accept them for 15 s more).
//   GET  /__keycheck?appid=K (or x-api-key / Authorization) -> 200 unless K is empty or "bad..."

// Prints "provider ready <issuer>" on stdout once listening.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 9400);
const issuer = `http://127.0.0.1:${port}`;
const redirectUris = (
    process.env.REDIRECT_URIS || `http://127.0.0.1:8080/api/v3/toolkits/auth/callback`
)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const atTtl = Number(process.env.AT_TTL || 3600);

const client = (id, method) => ({
    client_id: id,
    client_secret: `${id}-secret`,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: method,
});

const provider = new Provider(issuer, {
    clients: [
        client('tether-post', 'client_secret_post'),
        client('tether-basic', 'client_secret_basic'),
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: {
        devInteractions: { enabled: true },
        revocation: { enabled: true },
        introspection: { enabled: true },
    },
    issueRefreshToken: async (ctx, c, code) =>
        c.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    ttl: {
        AccessToken: atTtl,
        AuthorizationCode: 60,
        RefreshToken: 14 * 24 * 3600,
        Interaction: 600,
        Session: 3600,
        Grant: 14 * 24 * 3600,
        IdToken: 3600,
    },
    cookies: { keys: ['tether-tests-only-cookie-key'] },
    clockTolerance: 0,
    findAccount: async (ctx, sub) => ({
        accountId: sub,
        claims: async () => ({
            sub,
            email: `${sub}@example.test`,
            email_verified: true,
            name: `User ${sub}`,
        }),
    }),
});
provider.proxy = false;

const stats = {
    grants: { authorization_code: 0, refresh_token: 0 },
    issued: { access_tokens: [], refresh_tokens: [] },
    faulted: {}, // token requests answered by a fault mode, by mode
    userinfo: { ok: 0, refused: 0 },
};
let tokenMode = 'normal';
const hanging = new Set();

function readJson(req, limit = 4096) {
    return new Promise((resolve, reject) => {
        let raw = '';
        req.setEncoding('utf8');
        req.on('data', (c) => {
            raw += c;
            if (raw.length > limit) reject(new Error('body too large'));
        });
        req.on('end', () => {
            try {
                resolve(raw ? JSON.parse(raw) : {});
            } catch (e) {
                reject(e);
            }
        });
        req.on('error', reject);
    });
}

// Test hooks and token-endpoint faults. Runs before the provider's own routes.
provider.use(async (ctx, next) => {
    if (ctx.path === '/__stats' && ctx.method === 'GET') {
        ctx.type = 'application/json';
        ctx.body = JSON.stringify({ ...stats, mode: tokenMode });
        return;
    }
    if (ctx.path === '/__keycheck' && ctx.method === 'GET') {
        // Stands in for a key-based API's "is this key good?" request: keys starting with "bad"
        // (or none) are refused.
        const auth = ctx.get('authorization').replace(/^(Bearer|Basic)\s+/i, '');
        const key = ctx.query.appid || ctx.get('x-api-key') || auth;
        const good = Boolean(key) && !String(key).startsWith('bad');
        ctx.status = good ? 200 : 401;
        ctx.type = 'application/json';
        ctx.body = JSON.stringify(good ? { ok: true } : { error: 'invalid key' });
        return;
    }
    if (ctx.path === '/__mode' && ctx.method === 'POST') {
        let body;
        try {
            body = await readJson(ctx.req);
        } catch {
            ctx.status = 400;
            ctx.body = 'bad json';
            return;
        }
        if (!['normal', 'hang', '500', 'garbage'].includes(body.token)) {
            ctx.status = 400;
            ctx.body = 'token must be normal|hang|500|garbage';
            return;
        }
        tokenMode = body.token;
        if (tokenMode !== 'hang') for (const release of hanging) release();
        ctx.type = 'application/json';
        ctx.body = JSON.stringify({ token: tokenMode });
        return;
    }
    if (ctx.path === '/__forget' && ctx.method === 'POST') {
        let body;
        try {
            body = await readJson(ctx.req);
        } catch {
            ctx.status = 400;
            ctx.body = 'bad json';
            return;
        }
        const token =
            typeof body.access_token === 'string'
                ? await provider.AccessToken.find(body.access_token)
                : undefined;
        if (token) await token.destroy();
        ctx.type = 'application/json';
        ctx.body = JSON.stringify({ forgotten: Boolean(token) });
        return;
    }
    if (ctx.path === '/token' && ctx.method === 'POST' && tokenMode !== 'normal') {
        stats.faulted[tokenMode] = (stats.faulted[tokenMode] ?? 0) + 1;
        if (tokenMode === 'hang') {
            // Never answer while the mode stays "hang"; the socket is closed if the mode changes.
            await new Promise((resolve) => {
                const release = () => {
                    hanging.delete(release);
                    resolve();
                };
                hanging.add(release);
                ctx.req.on('close', release);
            });
            ctx.req.socket.destroy();
            ctx.respond = false;
            return;
        }
        if (tokenMode === '500') {
            ctx.status = 500;
            ctx.type = 'application/json';
            ctx.body = JSON.stringify({
                error: 'server_error',
                error_description: 'forced by test',
            });
            return;
        }
        ctx.status = 200;
        ctx.type = 'text/html';
        ctx.body = '<html><body>this is not json</body></html>';
        return;
    }
    try {
        await next();
    } finally {
        if (ctx.path === '/me') stats.userinfo[ctx.status === 200 ? 'ok' : 'refused'] += 1;
    }
    if (ctx.path === '/token' && ctx.method === 'POST') {
        const gt = ctx.oidc?.params?.grant_type;
        if (gt && gt in stats.grants) stats.grants[gt] += 1;
        const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : null;
        if (body?.access_token) stats.issued.access_tokens.push(body.access_token);
        if (body?.refresh_token) stats.issued.refresh_tokens.push(body.refresh_token);
        if (body?.id_token) (stats.issued.id_tokens ??= []).push(body.id_token);
    }
});

const server = provider.listen(port, '127.0.0.1', () => {
    console.log(`provider ready ${issuer}`);
});

function shutdown() {
    for (const release of hanging) release();
    server.close();
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
