// In-chat authentication through the official @composio/core 0.19.0 SDK: session.tools() lists
// COMPOSIO_MANAGE_CONNECTIONS unless manageConnections is false; executing it gives a Connect Link
// that completes against the local OAuth2 provider, then reports the account as connected;
// COMPOSIO_WAIT_FOR_CONNECTIONS answers as soon as the user finishes; search; strict shapes;
// every execution logged with its log_id and no secrets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
    api,
    captureWarnings,
    completeConnectLink,
    sleep,
    startStack,
    waitAccount,
} from './lib/harness.mjs';

process.env.TELEMETRY_DISABLED = 'true';
const { Composio } = await import('@composio/core');

const APP = 'https://your-app.example/chat-callback';
const MANAGE = 'COMPOSIO_MANAGE_CONNECTIONS';
const WAIT = 'COMPOSIO_WAIT_FOR_CONNECTIONS';
const SEARCH = 'COMPOSIO_SEARCH_TOOLS';
let stack;
let tether;
let composio;
let warn;

const names = (tools) => tools.map((t) => t.function?.name ?? t.name ?? t.slug);

before(async () => {
    warn = captureWarnings();
    stack = await startStack();
    ({ tether } = stack);
    composio = new Composio({
        apiKey: tether.apiKey,
        baseURL: tether.url,
        allowTracking: false,
        disableVersionCheck: true,
    });
    for (const slug of ['gmail', 'github']) {
        await composio.authConfigs.create(slug, {
            type: 'use_custom_auth',
            authScheme: 'OAUTH2',
            credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
        });
    }
});

after(async () => {
    warn?.restore();
    await stack?.stop();
});

test('session.tools() lists COMPOSIO_MANAGE_CONNECTIONS by default, not with manageConnections: false', async () => {
    const on = await composio.create('user_tools_1', { toolkits: ['gmail', 'github'] });
    const onNames = names(await on.tools());
    for (const slug of [MANAGE, WAIT, SEARCH, 'GMAIL_GET_PROFILE', 'GITHUB_GET_THE_AUTHENTICATED_USER'])
        assert.ok(onNames.includes(slug), `${slug} listed: ${onNames.join(', ')}`);
    assert.ok(!onNames.some((n) => n.startsWith('SLACK_')), 'only enabled toolkits list tools');

    const off = await composio.create('user_tools_1', {
        toolkits: ['gmail'],
        manageConnections: false,
    });
    const offNames = names(await off.tools());
    assert.ok(!offNames.includes(MANAGE), `MANAGE must be absent: ${offNames.join(', ')}`);
    assert.ok(!offNames.includes(WAIT), `WAIT must be absent: ${offNames.join(', ')}`);
    assert.ok(offNames.includes('GMAIL_GET_PROFILE'));

    // Executing it anyway is a clear error, not a silent success.
    await assert.rejects(off.execute(MANAGE, { toolkits: ['gmail'] }), (e) => {
        assert.equal(e.status, 404, `status ${e.status}: ${e.message}`);
        assert.match(e.message, /not available in this session/);
        assert.match(e.message, /manage_connections/);
        return true;
    });

    // waitForConnections: false keeps MANAGE but drops WAIT.
    const nowait = await composio.create('user_tools_1', {
        toolkits: ['gmail'],
        manageConnections: { enable: true, waitForConnections: false },
    });
    const nwNames = names(await nowait.tools());
    assert.ok(nwNames.includes(MANAGE) && !nwNames.includes(WAIT), nwNames.join(', '));
});

test('raw tool items are strict: no nulls, object schemas, paging with cursor', async () => {
    const s = await composio.create('user_tools_2', { toolkits: ['gmail', 'github', 'hackernews'] });
    const all = await api(tether, 'GET', `/api/v3.1/tool_router/session/${s.sessionId}/tools`);
    assert.equal(all.status, 200);
    const items = all.json.items;
    for (const it of items) {
        for (const [k, v] of Object.entries(it))
            assert.notEqual(v, null, `${it.slug}.${k} must not be null`);
        assert.equal(it.input_parameters.type, 'object', `${it.slug} input schema`);
        assert.equal(typeof it.description, 'string');
        assert.ok(it.toolkit.slug && it.toolkit.name, `${it.slug} toolkit`);
    }
    assert.equal(all.json.total_items, items.length);
    const p1 = await api(tether, 'GET', `/api/v3.1/tool_router/session/${s.sessionId}/tools?limit=2`);
    assert.equal(p1.json.items.length, 2);
    assert.equal(p1.json.next_cursor, '2');
    const p2 = await api(
        tether,
        'GET',
        `/api/v3.1/tool_router/session/${s.sessionId}/tools?limit=2&cursor=${p1.json.next_cursor}`,
    );
    assert.deepEqual(
        [...p1.json.items, ...p2.json.items].map((i) => i.slug),
        items.slice(0, 4).map((i) => i.slug),
    );
    const bad = await api(tether, 'GET', `/api/v3.1/tool_router/session/${s.sessionId}/tools?limit=0`);
    assert.equal(bad.status, 400);
    const none = await api(tether, 'GET', '/api/v3.1/tool_router/session/trs_nope/tools');
    assert.equal(none.status, 404);
});

test('MANAGE_CONNECTIONS gives a link that completes; executing it again reports the account', async () => {
    const session = await composio.create('user_chat', {
        toolkits: ['gmail', 'github'],
        manageConnections: { enable: true, callbackUrl: `${APP}?from=chat` },
    });
    const first = await session.execute(MANAGE, { toolkits: ['gmail'] });
    assert.equal(first.error, null, `no error: ${JSON.stringify(first)}`);
    assert.match(first.logId, /^log_/);
    const g = first.data.results.gmail;
    assert.equal(g.status, 'initiated', JSON.stringify(first.data));
    assert.match(g.connected_account_id, /^ca_/);
    assert.match(g.redirect_url, new RegExp(`^${tether.url}/link/ln_`));
    assert.ok(g.instruction.includes(g.redirect_url), 'the instruction shows the link');

    const r = await completeConnectLink(g.redirect_url, { login: 'chat-user', stopAt: APP });
    assert.ok(r.location, `back to the app: ${r.steps.join('\n')}`);
    const q = Object.fromEntries(new URL(r.location).searchParams);
    assert.equal(q.status, 'success');
    assert.equal(q.from, 'chat', "the app's callback_url from manage_connections is used");
    assert.equal(q.connected_account_id, g.connected_account_id);
    await waitAccount(tether, g.connected_account_id, (a) => a.status === 'ACTIVE');

    const again = await session.execute(MANAGE, { toolkits: ['gmail'] });
    assert.equal(again.error, null);
    assert.equal(again.data.results.gmail.status, 'connected', JSON.stringify(again.data));
    assert.equal(again.data.results.gmail.connected_account_id, g.connected_account_id);
    assert.notEqual(again.logId, first.logId);

    // The session's toolkits agree.
    const tk = await session.toolkits({ toolkits: ['gmail'] });
    assert.equal(tk.items[0].connection?.connectedAccount?.id, g.connected_account_id);

    // A toolkit tool now runs with that account (the local provider has no Gmail API, so the
    // upstream answer is an error, reported in the strict shape).
    const tool = await session.execute('GMAIL_GET_PROFILE', {});
    assert.equal(typeof tool.data, 'object');
    assert.match(tool.logId, /^log_/);
    assert.equal(typeof tool.error, 'string', JSON.stringify(tool));

    // reinitiate: a fresh link even though an account is active.
    const re = await session.execute(MANAGE, { toolkits: ['gmail'], reinitiate: true });
    assert.equal(re.data.results.gmail.status, 'initiated');
    assert.notEqual(re.data.results.gmail.connected_account_id, g.connected_account_id);
});

test('WAIT_FOR_CONNECTIONS parks until the user finishes, and times out otherwise', async () => {
    const session = await composio.create('user_wait', { toolkits: ['github', 'gmail'] });
    const m = await session.execute(MANAGE, { toolkits: ['github'] });
    const link = m.data.results.github.redirect_url;
    assert.ok(link, JSON.stringify(m.data));

    const t0 = Date.now();
    const waiting = session.execute(WAIT, { toolkits: ['github'], timeout_seconds: 30 });
    await sleep(300);
    const r = await completeConnectLink(link, { login: 'waiter' });
    assert.equal(r.status, 200, r.steps.join('\n'));
    const w = await waiting;
    const ms = Date.now() - t0;
    assert.equal(w.error, null);
    assert.equal(w.data.all_connected, true, JSON.stringify(w.data));
    assert.equal(w.data.results.github.status, 'connected');
    assert.equal(w.data.results.github.connected_account_id, m.data.results.github.connected_account_id);
    assert.ok(ms < 15000, `answered when the user finished (${ms} ms)`);

    // Nothing started for gmail: it answers at once and says what to do.
    const idle = await session.execute(WAIT, { toolkits: ['gmail'], timeout_seconds: 5 });
    assert.equal(idle.data.results.gmail.status, 'not_connected');
    assert.match(idle.data.results.gmail.message, /COMPOSIO_MANAGE_CONNECTIONS/);

    // A link nobody opens: the wait ends at its timeout with timed_out.
    await session.execute(MANAGE, { toolkits: ['gmail'] });
    const t1 = Date.now();
    const late = await session.execute(WAIT, { toolkits: ['gmail'], timeout_seconds: 1 });
    assert.equal(late.data.timed_out, true, JSON.stringify(late.data));
    assert.equal(late.data.results.gmail.status, 'pending');
    assert.ok(Date.now() - t1 >= 900, 'waited about a second');

    // Bad arguments are a tool error (200 with error), so the agent can fix its call.
    const bad = await session.execute(WAIT, { toolkits: 'gmail', timeout_seconds: 999 });
    assert.match(bad.error ?? '', /timeout_seconds/);
    assert.deepEqual(bad.data, {});
});

test('search, disabled toolkits, unknown tools, execute_meta, and toolkit tools', async () => {
    const session = await composio.create('user_misc', { toolkits: ['github'] });
    const s = await session.execute(SEARCH, { query: 'authenticated user on github' });
    assert.equal(s.error, null);
    assert.ok(s.data.results.length > 0, JSON.stringify(s.data));
    assert.ok(s.data.results.every((r) => r.toolkit === 'github'), 'only enabled toolkits');
    assert.equal(s.data.toolkit_connection_statuses[0].toolkit, 'github');

    const m = await session.execute(MANAGE, { toolkits: ['gmail', 'nope'] });
    assert.match(m.data.results.gmail.error, /not enabled/);
    assert.match(m.data.results.nope.error, /unknown toolkit/);
    assert.match(m.error ?? '', /no toolkit could be connected/);

    await assert.rejects(session.execute('GMAIL_GET_PROFILE', {}), (e) => e.status === 404);
    await assert.rejects(session.execute('NOPE_TOOL', {}), (e) => e.status === 404);

    const meta = await api(
        tether,
        'POST',
        `/api/v3.1/tool_router/session/${session.sessionId}/execute_meta`,
        { slug: SEARCH, arguments: { query: 'github user' } },
    );
    assert.equal(meta.status, 200, meta.text);
    assert.equal(meta.json.error, null);
    assert.match(meta.json.log_id, /^log_/);
    const notMeta = await api(
        tether,
        'POST',
        `/api/v3.1/tool_router/session/${session.sessionId}/execute_meta`,
        { slug: 'GITHUB_GET_THE_AUTHENTICATED_USER', arguments: {} },
    );
    assert.equal(notMeta.status, 400);
    const badBody = await api(
        tether,
        'POST',
        `/api/v3.1/tool_router/session/${session.sessionId}/execute`,
        { tool_slug: SEARCH, arguments: [1, 2] },
    );
    assert.equal(badBody.status, 400);

    // A toolkit tool with no connected account: a tool error the agent can act on.
    const t = await session.execute('GITHUB_GET_THE_AUTHENTICATED_USER', {});
    assert.equal(typeof t.error, 'string', JSON.stringify(t));
    assert.match(t.logId, /^log_/);
});

test('every execution is logged with its log_id, and no link token reaches the log', async () => {
    const session = await composio.create('user_log', { toolkits: ['gmail'] });
    const r = await session.execute(MANAGE, { toolkits: ['gmail'] });
    const token = new URL(r.data.results.gmail.redirect_url).pathname.split('/').pop();
    await sleep(100);
    const logs = tether.logs();
    const line = logs.split('\n').find((l) => l.includes(`log_id=${r.logId}`));
    assert.ok(line, `a log line for ${r.logId}`);
    assert.match(line, /msg=tool\.executed/);
    assert.match(line, new RegExp(`session=${session.sessionId}`));
    assert.match(line, /user="user_log"/);
    assert.match(line, /tool=COMPOSIO_MANAGE_CONNECTIONS/);
    assert.match(line, new RegExp(`account=${r.data.results.gmail.connected_account_id}`));
    assert.match(line, /outcome=ok/);
    assert.match(line, /dur_ms=\d/);
    assert.ok(!logs.includes(token), 'the link token is never logged');
    assert.deepEqual(warn.transformFailures(), [], 'no SDK validation warnings');
});
