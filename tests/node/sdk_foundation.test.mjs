// Foundation: the official @composio/core 0.19.0 SDK against tether. Sessions, session toolkits,
// authorize, connected accounts, auth configs, toolkits, errors, and no SDK validation warnings.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
    api,
    captureWarnings,
    completeConnectLink,
    fillKeyForm,
    startStack,
} from './lib/harness.mjs';

process.env.TELEMETRY_DISABLED = 'true';
const { Composio } = await import('@composio/core');

const USER = 'user_foundation';
let stack;
let tether;
let composio;
let warn;
let githubAc;

const sdk = (apiKey) =>
    new Composio({
        apiKey,
        baseURL: tether.url,
        allowTracking: false,
        disableVersionCheck: true,
    });

async function rejectsWith(promise, status, className, what) {
    let err;
    try {
        await promise;
    } catch (e) {
        err = e;
    }
    assert.ok(err, `${what}: expected an error, the call succeeded`);
    assert.equal(
        err.status,
        status,
        `${what}: expected HTTP ${status}, got ${err.status} (${err.name}: ${err.message})`,
    );
    assert.equal(
        err.constructor.name,
        className,
        `${what}: expected ${className}, got ${err.constructor.name}`,
    );
    return err;
}

// Connects `slug` for the session's user through the provider; returns the ACTIVE account id.
async function connect(session, slug) {
    const req = await session.authorize(slug);
    const r = await completeConnectLink(req.redirectUrl, { login: USER });
    assert.equal(
        r.status,
        200,
        `${slug}: flow should end on tether's success page\n${r.steps.join('\n')}`,
    );
    assert.match(r.body, /Connected/, `${slug}: success page should say "Connected"`);
    const acct = await req.waitForConnection(10000);
    assert.equal(acct.status, 'ACTIVE', `${slug}: account should be ACTIVE`);
    return acct.id;
}

before(async () => {
    warn = captureWarnings();
    stack = await startStack();
    tether = stack.tether;
    composio = sdk(tether.apiKey);
    // Custom auth configs with the local provider's client, so flows can finish.
    const custom = (slug) =>
        composio.authConfigs.create(slug, {
            type: 'use_custom_auth',
            authScheme: 'OAUTH2',
            credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
        });
    githubAc = (await custom('github')).id;
    await custom('gmail');
});

after(async () => {
    warn?.restore();
    await stack?.stop();
});

test('composio.create with and without options', async () => {
    const plain = await composio.create(USER);
    assert.match(plain.sessionId, /^trs_/, 'session id should start with trs_');
    assert.equal(typeof plain.config, 'object', 'session.config should be an object');
    assert.ok(plain.mcp?.url, 'session.mcp.url should be set');

    const noManage = await composio.create(USER, { manageConnections: false });
    assert.match(noManage.sessionId, /^trs_/);
    assert.notEqual(noManage.sessionId, plain.sessionId, 'every create makes a new session');

    const only = await composio.create(USER, { toolkits: ['gmail', 'github'] });
    const slugs = (await only.toolkits()).items.map((t) => t.slug).sort();
    assert.deepEqual(
        slugs,
        ['github', 'gmail'],
        'toolkits:{enable} should limit the session to those toolkits',
    );

    const multi = await composio.create(USER, {
        multiAccount: { enable: true, maxAccountsPerToolkit: 3 },
    });
    assert.match(multi.sessionId, /^trs_/);
    const again = await composio.use(multi.sessionId);
    assert.equal(again.sessionId, multi.sessionId, 'composio.use should fetch the same session');
});

test('session.toolkits: items, no-auth toolkits, pagination', async () => {
    const session = await composio.create(USER);
    const all = await session.toolkits();
    assert.ok(all.items.length >= 3, `expected several toolkits, got ${all.items.length}`);
    for (const t of all.items) {
        assert.equal(typeof t.slug, 'string', 'every item has a slug');
        assert.equal(typeof t.name, 'string', `${t.slug}: every item has a name`);
    }
    const hn = (await session.toolkits({ toolkits: ['hackernews'] })).items;
    assert.equal(hn.length, 1, 'filtering on toolkits=hackernews should give one item');
    assert.equal(hn[0].isNoAuth, true, 'hackernews should be isNoAuth');
    const gm = (await session.toolkits({ toolkits: ['gmail'] })).items[0];
    assert.equal(gm.isNoAuth, false, 'gmail needs auth');
    assert.notEqual(gm.connection?.isActive, true, 'gmail is not connected yet');

    // Page through with limit 1 and with limit 3: the same slugs in the same order, each once.
    const pageAll = async (limit) => {
        const slugs = [];
        let cursor;
        for (let i = 0; i < 200; i++) {
            const page = await session.toolkits({ limit, ...(cursor ? { cursor } : {}) });
            assert.ok(
                page.items.length <= limit,
                `limit ${limit} returned ${page.items.length} items`,
            );
            slugs.push(...page.items.map((t) => t.slug));
            cursor = page.cursor;
            if (!cursor) return slugs;
        }
        throw new Error(`limit ${limit}: the cursor never ran out`);
    };
    const ones = await pageAll(1);
    const threes = await pageAll(3);
    assert.ok(ones.length > 3, `expected more than 3 toolkits, got ${ones.length}`);
    assert.deepEqual(ones, threes, 'pages of 1 and pages of 3 should add up to the same list');
    assert.equal(new Set(ones).size, ones.length, 'no toolkit appears twice across pages');
    assert.ok(
        ones.includes('gmail') && ones.includes('hackernews'),
        'paging reaches every toolkit',
    );
});

test('session.authorize gives a Connect Link and an INITIATED account', async () => {
    const session = await composio.create(USER);
    const req = await session.authorize('github');
    assert.ok(
        req.redirectUrl.startsWith(`${tether.url}/link/ln_`),
        `redirectUrl should be under ${tether.url}/link/ln_, got ${req.redirectUrl}`,
    );
    assert.equal(req.status, 'INITIATED');
    assert.match(req.id, /^ca_/, 'connected account id should start with ca_');
    const acct = await composio.connectedAccounts.get(req.id);
    assert.equal(acct.status, 'INITIATED', 'a new account waits for the user');
    assert.equal(acct.toolkit?.slug, 'github');
    assert.equal(
        acct.authConfig?.id,
        githubAc,
        "the account should use the project's github auth config",
    );
});

test('connectedAccounts get/list/enable/disable/delete', async () => {
    const session = await composio.create(USER);
    const id = await connect(session, 'github');

    const got = await composio.connectedAccounts.get(id);
    assert.equal(got.id, id);
    assert.equal(got.status, 'ACTIVE');
    assert.equal(got.isDisabled, false);

    const list = await composio.connectedAccounts.list({
        userIds: [USER],
        toolkitSlugs: ['github'],
    });
    assert.ok(
        list.items.some((a) => a.id === id),
        'list by user and toolkit should include the account',
    );
    const active = await composio.connectedAccounts.list({ userIds: [USER], statuses: ['ACTIVE'] });
    assert.ok(
        active.items.every((a) => a.status === 'ACTIVE'),
        'statuses=ACTIVE should only list ACTIVE accounts',
    );
    const other = await composio.connectedAccounts.list({ userIds: ['somebody_else'] });
    assert.ok(
        !other.items.some((a) => a.id === id),
        "another user's list must not include the account",
    );

    await composio.connectedAccounts.disable(id);
    const off = await composio.connectedAccounts.get(id);
    assert.ok(
        off.isDisabled === true || off.status === 'INACTIVE',
        `after disable: isDisabled=${off.isDisabled} status=${off.status}`,
    );
    await composio.connectedAccounts.enable(id);
    const on = await composio.connectedAccounts.get(id);
    assert.equal(on.isDisabled, false, 'after enable the account is not disabled');
    assert.equal(on.status, 'ACTIVE', 'after enable the account is ACTIVE again');

    await composio.connectedAccounts.delete(id);
    await rejectsWith(composio.connectedAccounts.get(id), 404, 'NotFoundError', 'get after delete');
});

test('session pins: connected account and auth config', async () => {
    const s = await composio.create(USER);
    const first = await connect(s, 'gmail');
    const second = await connect(s, 'gmail');
    const latest = (await s.toolkits({ toolkits: ['gmail'] })).items[0];
    assert.equal(latest.connection?.isActive, true, 'gmail should show as connected');
    assert.equal(
        latest.connection?.connectedAccount?.id,
        second,
        'without a pin, the newest ACTIVE account is used',
    );

    const pinned = await composio.create(USER, { connectedAccounts: { gmail: first } });
    const p = (await pinned.toolkits({ toolkits: ['gmail'] })).items[0];
    assert.equal(
        p.connection?.connectedAccount?.id,
        first,
        'a pinned account wins over the newest one',
    );

    const ac2 = await composio.authConfigs.create('gmail', {
        type: 'use_custom_auth',
        authScheme: 'OAUTH2',
        name: 'second gmail app',
        credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
    });
    const acPinned = await composio.create(USER, { authConfigs: { gmail: ac2.id } });
    const req = await acPinned.authorize('gmail');
    const acct = await composio.connectedAccounts.get(req.id);
    assert.equal(
        acct.authConfig?.id,
        ac2.id,
        'authConfigs pin decides which auth config a new account uses',
    );
});

test('authConfigs create/list/get, custom and managed', async () => {
    const custom = await composio.authConfigs.create('gmail', {
        type: 'use_custom_auth',
        authScheme: 'OAUTH2',
        name: 'my gmail app',
        credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
    });
    assert.match(custom.id, /^ac_/, 'auth config id should start with ac_');
    assert.equal(custom.isComposioManaged, false, 'custom auth is not managed');
    assert.equal(custom.authScheme, 'OAUTH2');

    // Managed OAuth needs the operator's app for that toolkit (`tether apps set`); without one
    // the request is refused with a clear 400. Key-based toolkits need no operator app.
    const noApp = await rejectsWith(
        composio.authConfigs.create('github', { type: 'use_composio_managed_auth' }),
        400,
        'BadRequestError',
        'managed OAuth without an operator app',
    );
    assert.match(JSON.stringify(noApp.error), /managed/i, 'the error explains what is missing');
    const managed = await composio.authConfigs.create('openweathermap', {
        type: 'use_composio_managed_auth',
        name: 'OWM managed',
    });
    assert.match(managed.id, /^ac_/);
    assert.equal(managed.isComposioManaged, true, 'managed auth is managed');
    assert.equal(managed.authScheme, 'API_KEY');

    const list = await composio.authConfigs.list({ toolkit: 'gmail' });
    assert.ok(
        list.items.some((a) => a.id === custom.id),
        'list?toolkit=gmail should include the new config',
    );
    assert.ok(
        !list.items.some((a) => a.id === managed.id),
        'list?toolkit=gmail must not include a github config',
    );

    const got = await composio.authConfigs.get(custom.id);
    assert.equal(got.id, custom.id);
    assert.equal(got.toolkit?.slug, 'gmail');
    assert.equal(got.isComposioManaged, false);
    assert.equal(got.status, 'ENABLED');

    const raw = await api(tether, 'GET', `/api/v3.1/auth_configs/${custom.id}`);
    assert.equal(raw.status, 200);
    assert.ok(
        !raw.text.includes('tether-post-secret'),
        'the API must never return a client secret',
    );
});

test('API-key toolkit: the Connect Link form stores the key', async () => {
    const session = await composio.create(USER);
    const req = await session.authorize('openweathermap');
    assert.ok(
        req.redirectUrl.startsWith(`${tether.url}/link/ln_`),
        `redirectUrl: ${req.redirectUrl}`,
    );
    const bad = await fillKeyForm(req.redirectUrl, { api_key: 'bad-key' });
    assert.equal(bad.status, 400, `a key the provider refuses shows the form again with an error`);
    assert.match(bad.body, /name="api_key"/, 'the form is shown again');
    const pending = await composio.connectedAccounts.get(req.id);
    assert.equal(pending.status, 'INITIATED', 'a refused key leaves the account INITIATED');

    const key = `owm_${Date.now()}_secret_value`;
    const r = await fillKeyForm(req.redirectUrl, { api_key: key });
    assert.match(r.linkPage.body, /name="api_key"/, 'the link page asks for the key field');
    assert.equal(
        r.status,
        200,
        `the form ends on tether's success page\n${r.steps.join('\n')}\n${r.body.slice(0, 800)}`,
    );
    assert.match(r.body, /Connected/, 'success page says "Connected"');
    const acct = await req.waitForConnection(5000);
    assert.equal(acct.status, 'ACTIVE');
    assert.equal(
        acct.authConfig?.isComposioManaged,
        true,
        'uses the managed key-based auth config',
    );
    const raw = await api(tether, 'GET', `/api/v3.1/connected_accounts/${req.id}`);
    assert.ok(!raw.text.includes(key), 'the API never returns the stored key');
});

test('composio.toolkits.get', async () => {
    const tk = await composio.toolkits.get('gmail');
    assert.equal(tk.slug, 'gmail');
    assert.equal(typeof tk.name, 'string');
    assert.ok(tk.name.length > 0, 'toolkit has a name');
});

test('errors: unknown account, wrong API key', async () => {
    await rejectsWith(
        composio.connectedAccounts.get('ca_doesnotexist1'),
        404,
        'NotFoundError',
        'unknown account',
    );
    const wrong = sdk('tk_live_this_key_is_wrong');
    await rejectsWith(
        wrong.connectedAccounts.list({}),
        401,
        'AuthenticationError',
        'wrong API key',
    );
    const none = await fetch(`${tether.url}/api/v3.1/connected_accounts`);
    assert.equal(none.status, 401, 'no API key -> 401');
    const body = await none.json();
    assert.equal(typeof body.error?.message, 'string', 'errors use the {"error":{...}} shape');
    assert.equal(body.error?.status, 401);
});

test('no "Transform validation failed" warnings from the SDK', () => {
    const bad = warn.transformFailures();
    assert.equal(bad.length, 0, `SDK validation warnings:\n${bad.join('\n')}`);
});
