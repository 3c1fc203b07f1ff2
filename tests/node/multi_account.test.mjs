// Several accounts of one toolkit: two (and three) logins at the local OAuth2 provider for gmail.
// The newest ACTIVE account is the default, a pinned one wins, a multi-account session with
// explicit selection refuses to guess and accepts an id, alias or word id, and a proxy call to
// the provider's userinfo endpoint (/me) answers with the identity of the account used. The
// identity is also looked up once at connect time and shown on the success page and in data.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    CALLBACK_PATH,
    api,
    completeConnectLink,
    freePort,
    removeDir,
    startProvider,
    startTether,
    tempDir,
    waitAccount,
    writeCatalog,
} from './lib/harness.mjs';

let provider;
let tether;
let catalogDir;
const USER = 'user_multi';
const acct = {}; // login -> connected account

/** gmail, with one extra tool that reads the provider's userinfo endpoint. */
function addWhoamiTool(dir) {
    const f = path.join(dir, 'gmail.json');
    const gmail = JSON.parse(fs.readFileSync(f, 'utf8'));
    gmail.tools = [
        ...(gmail.tools ?? []),
        {
            slug: 'GMAIL_TEST_WHOAMI',
            name: 'Who am I',
            description: 'Reads the OpenID Connect userinfo of the connected account.',
            input_parameters: { type: 'object', properties: {}, required: [] },
            http: { method: 'GET', path: '/me' },
        },
    ];
    fs.writeFileSync(f, JSON.stringify(gmail, null, 2));
}

/** "oidcfields": gmail's provider, with a connection field filled from the token response. */
function addTokenFieldToolkit(dir) {
    const gmail = JSON.parse(fs.readFileSync(path.join(dir, 'gmail.json'), 'utf8'));
    const scheme = {
        ...gmail.auth_schemes[0],
        fields: [
            {
                name: 'token_type',
                display_name: 'Token type',
                required: false,
                source: 'token_response',
            },
        ],
    };
    const entry = {
        ...gmail,
        slug: 'oidcfields',
        name: 'OIDC fields',
        tools: [],
        auth_schemes: [scheme],
    };
    fs.writeFileSync(path.join(dir, 'oidcfields.json'), JSON.stringify(entry, null, 2));
}

async function connect(sessionId, login, extra = {}) {
    const r = await api(tether, 'POST', `/api/v3.1/tool_router/session/${sessionId}/link`, {
        toolkit: 'gmail',
        ...extra,
    });
    assert.equal(r.status, 201, r.text);
    const page = await completeConnectLink(r.json.redirect_url, { login });
    assert.equal(page.status, 200, `${page.steps.join('\n')}\n${page.body.slice(0, 500)}`);
    assert.match(page.body, /Connected/);
    assert.ok(
        page.body.includes(`${login}@example.test`),
        'the success page names the account that connected',
    );
    return waitAccount(tether, r.json.connected_account_id, (a) => a.status === 'ACTIVE');
}

async function session(body = {}) {
    const r = await api(tether, 'POST', '/api/v3.1/tool_router/session', {
        user_id: USER,
        ...body,
    });
    assert.equal(r.status, 201, r.text);
    return r.json.session_id;
}

async function proxyMe(sessionId, extra = {}) {
    return api(tether, 'POST', `/api/v3.1/tool_router/session/${sessionId}/proxy_execute`, {
        toolkit_slug: 'gmail',
        endpoint: '/me',
        method: 'GET',
        parameters: [],
        ...extra,
    });
}

async function inUse(sessionId) {
    const r = await api(tether, 'GET', `/api/v3.1/tool_router/session/${sessionId}/toolkits?toolkits=gmail`);
    assert.equal(r.status, 200, r.text);
    return r.json.items[0].connected_account?.id;
}

before(async () => {
    const port = await freePort();
    provider = await startProvider({ redirectUris: [`http://127.0.0.1:${port}${CALLBACK_PATH}`] });
    catalogDir = writeCatalog(tempDir('tether-catalog-'), provider.issuer);
    addWhoamiTool(catalogDir);
    addTokenFieldToolkit(catalogDir);
    tether = await startTether({ port, catalogDir });
    for (const slug of ['gmail', 'oidcfields']) {
        const ac = await api(tether, 'POST', '/api/v3.1/auth_configs', {
            toolkit: { slug },
            auth_config: {
                type: 'use_custom_auth',
                authScheme: 'OAUTH2',
                credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
            },
        });
        assert.equal(ac.status, 201, ac.text);
    }
});

after(async () => {
    await Promise.allSettled([tether?.stop(), provider?.stop()]);
    if (catalogDir) removeDir(catalogDir);
});

test('every authorize makes a new account, each with its own identity', async () => {
    const s = await session();
    acct.alice = await connect(s, 'alice');
    assert.equal(acct.alice.data.identity, 'alice@example.test');
    acct.bob = await connect(s, 'bob');
    assert.equal(acct.bob.data.identity, 'bob@example.test');
    assert.notEqual(acct.alice.id, acct.bob.id);
    assert.ok(acct.bob.word_id.startsWith('gmail_'), 'a short word id');
    const list = await api(
        tether,
        'GET',
        `/api/v3.1/connected_accounts?user_ids=${USER}&toolkit_slugs=gmail&statuses=ACTIVE`,
    );
    assert.equal(list.json.items.length, 2);
});

test('the default is the most recently connected account', async () => {
    const s = await session();
    assert.equal(await inUse(s), acct.bob.id);
    const r = await proxyMe(s);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 200);
    assert.equal(r.json.data.email, 'bob@example.test');
    assert.equal(r.json.data.sub, 'bob');
});

test('a pinned account wins, in string and in array form', async () => {
    for (const pin of [acct.alice.id, [acct.alice.id]]) {
        const s = await session({ connected_accounts: { gmail: pin } });
        assert.equal(await inUse(s), acct.alice.id);
        const r = await proxyMe(s);
        assert.equal(r.json.data.email, 'alice@example.test', r.text);
    }
    // a session cannot pin another user's account
    const other = await api(tether, 'POST', '/api/v3.1/tool_router/session', {
        user_id: 'someone_else',
        connected_accounts: { gmail: acct.alice.id },
    });
    assert.equal(other.status, 400, other.text);
});

test('the proxy outside sessions uses exactly the account given', async () => {
    for (const who of ['alice', 'bob']) {
        const r = await api(tether, 'POST', '/api/v3.1/tools/execute/proxy', {
            endpoint: '/me',
            method: 'GET',
            connected_account_id: acct[who].id,
            parameters: [],
        });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.data.email, `${who}@example.test`);
    }
});

test('multi-account with explicit selection refuses to guess, accepts id, alias, word id', async () => {
    const s = await session({
        multi_account: { enable: true, require_explicit_selection: true },
    });
    let r = await proxyMe(s);
    assert.equal(r.status, 404, r.text);
    assert.equal(r.json.error.code, 1803);
    assert.ok(r.json.error.message.includes(acct.alice.id), r.json.error.message);
    assert.ok(r.json.error.message.includes(acct.bob.id), r.json.error.message);
    assert.ok(r.json.error.message.includes('bob@example.test'), 'candidates show identities');

    acct.carol = await connect(s, 'carol', { alias: 'work' });
    assert.equal(acct.carol.alias, 'work');
    const dup = await api(tether, 'POST', `/api/v3.1/tool_router/session/${s}/link`, {
        toolkit: 'gmail',
        alias: 'work',
    });
    assert.equal(dup.status, 400, 'an alias is unique per user and toolkit');

    r = await proxyMe(s, { account: 'work' });
    assert.equal(r.json.data.email, 'carol@example.test', r.text);
    r = await proxyMe(s, { account: acct.alice.word_id });
    assert.equal(r.json.data.email, 'alice@example.test', r.text);
    r = await proxyMe(s, { account: acct.bob.id });
    assert.equal(r.json.data.email, 'bob@example.test', r.text);
    r = await proxyMe(s, { account: 'no-such-alias' });
    assert.equal(r.json.error.code, 1803, r.text);

    // tools outside sessions: the user's newest account unless one is named
    r = await api(tether, 'POST', '/api/v3.1/tools/execute/GMAIL_TEST_WHOAMI', {
        user_id: USER,
        arguments: {},
    });
    assert.equal(r.json.successful, true, r.text);
    assert.equal(r.json.data.email, 'carol@example.test');
    r = await api(tether, 'POST', '/api/v3.1/tools/execute/GMAIL_TEST_WHOAMI', {
        connected_account_id: acct.alice.id,
        arguments: {},
    });
    assert.equal(r.json.data.email, 'alice@example.test', r.text);
});

test('multi-account without explicit selection uses the newest', async () => {
    const s = await session({
        multi_account: { enable: true, require_explicit_selection: false },
    });
    const r = await proxyMe(s);
    assert.equal(r.json.data.email, 'carol@example.test', r.text);
});

test('a disabled account is never chosen by default', async () => {
    let r = await api(tether, 'PATCH', `/api/v3.1/connected_accounts/${acct.carol.id}/status`, {
        enabled: false,
    });
    assert.equal(r.status, 200, r.text);
    const s = await session();
    r = await proxyMe(s);
    assert.equal(r.json.data.email, 'bob@example.test', r.text);
    r = await proxyMe(s, { account: 'work' });
    assert.equal(r.json.error.code, 1803, r.text);
    await api(tether, 'PATCH', `/api/v3.1/connected_accounts/${acct.carol.id}/status`, {
        enabled: true,
    });
});

test('fields with source token_response come from the provider, never from the page', async () => {
    const s = await session();
    const r = await api(tether, 'POST', `/api/v3.1/tool_router/session/${s}/link`, {
        toolkit: 'oidcfields',
    });
    assert.equal(r.status, 201, r.text);
    const page = await completeConnectLink(r.json.redirect_url, { login: 'dave' });
    assert.doesNotMatch(page.linkPage.body, /name="token_type"/, 'the page does not ask for it');
    const a = await waitAccount(tether, r.json.connected_account_id, (x) => x.status === 'ACTIVE');
    assert.equal(a.data.fields.token_type, 'Bearer');
    assert.equal(a.data.identity, 'dave@example.test');
});

test('no access token reaches the logs', () => {
    assert.doesNotMatch(tether.logs(), /access_token"\s*:\s*"[A-Za-z0-9_-]{20,}/);
});
