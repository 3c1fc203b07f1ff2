// Tool and proxy calls against a real OAuth2 provider (oidc-provider) wait for their account's
// token to be refreshed, and retry once after a 401:
//  - a token the provider has forgotten (its grant and refresh token live on): the proxy, a tool
//    run, a session's execute and proxy_execute and an MCP tools/call each get one 401, force one
//    refresh and succeed on the second try; 10 concurrent calls on such a token refresh it once
//  - a revoked grant: the forced refresh fails, the account turns EXPIRED and the provider's 401
//    is the answer (no further try)
//  - an expired token (access tokens live 2 s, background refresh off): every face waits for one
//    refresh and sends only the new token (the provider never sees the expired one)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
    CALLBACK_PATH,
    api,
    completeConnectLink,
    freePort,
    removeDir,
    sleep,
    startProvider,
    startTether,
    tempDir,
    waitAccount,
    writeCatalog,
} from './lib/harness.mjs';

const CLIENT = { client_id: 'tether-post', client_secret: 'tether-post-secret' };
const WHOAMI = 'GMAIL_TEST_WHOAMI';

function addWhoamiTool(dir) {
    const f = path.join(dir, 'gmail.json');
    const gmail = JSON.parse(fs.readFileSync(f, 'utf8'));
    gmail.tools = [
        ...(gmail.tools ?? []),
        {
            slug: WHOAMI,
            name: 'Who am I',
            description: 'Reads the OpenID Connect userinfo of the connected account.',
            input_parameters: { type: 'object', properties: {}, required: [] },
            http: { method: 'GET', path: '/me' },
        },
    ];
    fs.writeFileSync(f, JSON.stringify(gmail, null, 2));
}

/** Provider, catalogue (with the whoami tool) and tether with background refresh off. */
async function startRig(atTtl) {
    const port = await freePort();
    const provider = await startProvider({
        redirectUris: [`http://127.0.0.1:${port}${CALLBACK_PATH}`],
        atTtl,
    });
    const catalogDir = writeCatalog(tempDir('tether-catalog-'), provider.issuer);
    addWhoamiTool(catalogDir);
    let tether;
    try {
        tether = await startTether({ port, catalogDir, env: { TETHER_REFRESH_BACKGROUND: '0' } });
    } catch (e) {
        await provider.stop();
        throw e;
    }
    const ac = await api(tether, 'POST', '/api/v3.1/auth_configs', {
        toolkit: { slug: 'gmail' },
        auth_config: { type: 'use_custom_auth', authScheme: 'OAUTH2', credentials: CLIENT },
    });
    assert.equal(ac.status, 201, ac.text);
    return {
        provider,
        tether,
        authConfig: ac.json.auth_config.id,
        async stop() {
            await Promise.allSettled([tether.stop(), provider.stop()]);
            removeDir(catalogDir);
        },
    };
}

/** Connects user at the provider; returns the account id and a session of that user. */
async function connectUser(rig, user) {
    const { tether } = rig;
    const r = await api(tether, 'POST', '/api/v3.1/connected_accounts/link', {
        auth_config_id: rig.authConfig,
        user_id: user,
    });
    assert.equal(r.status, 201, r.text);
    const flow = await completeConnectLink(r.json.redirect_url, { login: user });
    assert.ok([200, 302].includes(flow.status), flow.steps.join('\n'));
    const id = r.json.connected_account_id;
    await waitAccount(tether, id, (a) => a.status === 'ACTIVE');
    const s = await api(tether, 'POST', '/api/v3.1/tool_router/session', {
        user_id: user,
        toolkits: ['gmail'],
    });
    assert.equal(s.status, 201, s.text);
    return { id, sessionId: s.json.session_id };
}

async function providerPost(provider, p, body, form = false) {
    const res = await fetch(`${provider.issuer}${p}`, {
        method: 'POST',
        headers: {
            'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
        },
        body: form ? new URLSearchParams({ ...body, ...CLIENT }).toString() : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** The provider drops the newest access token (the account's current one), grant intact. */
async function forgetCurrentToken(provider) {
    const at = (await provider.stats()).issued.access_tokens.at(-1);
    const r = await providerPost(provider, '/__forget', { access_token: at });
    assert.equal(r.status, 200);
    assert.equal(r.json.forgotten, true, 'the provider knew the token');
}

/** The calls under test. Each answers {status, who, upstream} (who: the identity at /me). */
const faces = {
    async proxy(t, acc) {
        const r = await api(t, 'POST', '/api/v3.1/tools/execute/proxy', {
            connected_account_id: acc.id,
            endpoint: '/me',
            method: 'GET',
        });
        return { status: r.status, upstream: r.json?.status, who: r.json?.data?.email, r };
    },
    async execute(t, acc) {
        const r = await api(t, 'POST', `/api/v3.1/tools/execute/${WHOAMI}`, {
            connected_account_id: acc.id,
            arguments: {},
        });
        const ok = r.json?.successful === true;
        return { status: r.status, upstream: ok ? 200 : r.json?.error, who: r.json?.data?.email, r };
    },
    async sessionExecute(t, acc) {
        const r = await api(t, 'POST', `/api/v3.1/tool_router/session/${acc.sessionId}/execute`, {
            tool_slug: WHOAMI,
            arguments: {},
        });
        const ok = r.json && r.json.error === null;
        return { status: r.status, upstream: ok ? 200 : r.json?.error, who: r.json?.data?.email, r };
    },
    async sessionProxy(t, acc) {
        const r = await api(
            t,
            'POST',
            `/api/v3.1/tool_router/session/${acc.sessionId}/proxy_execute`,
            { toolkit_slug: 'gmail', endpoint: '/me', method: 'GET' },
        );
        return { status: r.status, upstream: r.json?.status, who: r.json?.data?.email, r };
    },
    async mcp(t, acc) {
        const res = await fetch(`${t.url}/tool_router/${acc.sessionId}/mcp`, {
            method: 'POST',
            headers: {
                'x-api-key': t.apiKey,
                'content-type': 'application/json',
                accept: 'application/json, text/event-stream',
            },
            body: JSON.stringify({
                jsonrpc: '2.0',
                id: 1,
                method: 'tools/call',
                params: { name: WHOAMI, arguments: {} },
            }),
        });
        const text = await res.text();
        const out = JSON.parse(text);
        const inner = out.result?.content?.[0]?.text ? JSON.parse(out.result.content[0].text) : {};
        const ok = out.result && out.result.isError === false;
        return { status: res.status, upstream: ok ? 200 : inner.error, who: inner.data?.email, r: { text } };
    },
};

describe('a token the provider refuses: one forced refresh, one retry', () => {
    let rig;
    let acc;
    const USER = 'rita';
    before(async () => {
        rig = await startRig(3600);
        acc = await connectUser(rig, USER);
    });
    after(async () => rig?.stop());

    for (const [name, call] of Object.entries(faces)) {
        test(`${name}: a 401 forces one refresh and the retry succeeds`, { timeout: 30000 }, async () => {
            await forgetCurrentToken(rig.provider);
            const s0 = await rig.provider.stats();
            const res = await call(rig.tether, acc);
            const s1 = await rig.provider.stats();
            assert.equal(res.status, 200, res.r.text);
            assert.equal(res.upstream, 200, res.r.text);
            assert.equal(res.who, `${USER}@example.test`, res.r.text);
            assert.equal(s1.grants.refresh_token - s0.grants.refresh_token, 1, 'one refresh');
            assert.equal(s1.userinfo.refused - s0.userinfo.refused, 1, 'one 401 at the provider');
            assert.equal(s1.userinfo.ok - s0.userinfo.ok, 1, 'one successful retry');
        });
    }

    test('10 concurrent calls on a refused token: one refresh, every call answered', { timeout: 30000 }, async () => {
        await forgetCurrentToken(rig.provider);
        const g0 = (await rig.provider.stats()).grants.refresh_token;
        const results = await Promise.all(Array.from({ length: 10 }, () => faces.proxy(rig.tether, acc)));
        const g1 = (await rig.provider.stats()).grants.refresh_token;
        assert.ok(results.every((x) => x.status === 200 && x.upstream === 200),
            results.map((x) => `${x.status}/${x.upstream}`).join(','));
        assert.ok(results.every((x) => x.who === `${USER}@example.test`));
        assert.equal(g1 - g0, 1, 'exactly one refresh_token grant at the provider');
    });

    test('a revoked grant: the 401 is the answer and the account is EXPIRED', { timeout: 30000 }, async () => {
        const rt = (await rig.provider.stats()).issued.refresh_tokens.at(-1);
        const rv = await providerPost(
            rig.provider,
            '/token/revocation',
            { token: rt, token_type_hint: 'refresh_token' },
            true,
        );
        assert.equal(rv.status, 200);
        const s0 = await rig.provider.stats();
        const res = await faces.proxy(rig.tether, acc);
        const s1 = await rig.provider.stats();
        assert.equal(res.status, 200, res.r.text);
        assert.equal(res.upstream, 401, res.r.text);
        assert.equal(s1.userinfo.refused - s0.userinfo.refused, 1, 'no second try');
        assert.equal(s1.userinfo.ok - s0.userinfo.ok, 0);
        const a = await waitAccount(rig.tether, acc.id, (x) => x.status === 'EXPIRED');
        assert.ok(a.status_reason, 'a status_reason says why');
        const again = await faces.proxy(rig.tether, acc);
        assert.ok(again.status >= 400, `an EXPIRED account is refused (${again.status})`);
    });
});

describe('an expired token: the call waits for one refresh (access tokens live 2 s)', () => {
    let rig;
    let acc;
    const USER = 'eve';
    before(async () => {
        rig = await startRig(2);
        acc = await connectUser(rig, USER);
    });
    after(async () => rig?.stop());

    for (const [name, call] of Object.entries(faces)) {
        test(`${name}: waits for the refresh, sends only the new token`, { timeout: 30000 }, async () => {
            await sleep(2500); // the current access token has expired
            const s0 = await rig.provider.stats();
            const res = await call(rig.tether, acc);
            const s1 = await rig.provider.stats();
            assert.equal(res.status, 200, res.r.text);
            assert.equal(res.upstream, 200, res.r.text);
            assert.equal(res.who, `${USER}@example.test`, res.r.text);
            assert.equal(s1.grants.refresh_token - s0.grants.refresh_token, 1, 'one refresh');
            assert.equal(s1.userinfo.refused - s0.userinfo.refused, 0, 'no expired token sent');
        });
    }
});
