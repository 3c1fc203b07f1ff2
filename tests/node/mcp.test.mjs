// The MCP face of a session through the official MCP TypeScript SDK client (Streamable HTTP
// transport) against session.mcp.url: list tools, connect an account in chat
// (COMPOSIO_MANAGE_CONNECTIONS, the user finishes the link, COMPOSIO_WAIT_FOR_CONNECTIONS), scope
// and refusal, protocol version negotiation, and JSON-RPC errors for bad input.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { NODE_DIR, api, completeConnectLink, sleep, startStack } from './lib/harness.mjs';

process.env.TELEMETRY_DISABLED = 'true';
const { Composio } = await import('@composio/core');

const MANAGE = 'COMPOSIO_MANAGE_CONNECTIONS';
const WAIT = 'COMPOSIO_WAIT_FOR_CONNECTIONS';
let stack;
let tether;
let composio;
const clients = [];

async function connect(url, apiKey = tether.apiKey) {
    const client = new Client({ name: 'tether-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { 'x-api-key': apiKey } },
    });
    await client.connect(transport);
    clients.push(client);
    return client;
}

/** The {data, error, log_id} body of a tools/call result. */
function body(result) {
    assert.equal(result.content?.[0]?.type, 'text', JSON.stringify(result));
    return JSON.parse(result.content[0].text);
}

/** One raw POST to the MCP URL; returns {status, json, text, headers}. */
async function rpc(url, payload, { apiKey = tether.apiKey, headers = {}, raw = false } = {}) {
    const res = await fetch(url, {
        method: 'POST',
        headers: {
            'x-api-key': apiKey,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
        },
        body: raw ? payload : JSON.stringify(payload),
    });
    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch {
        /* empty or not JSON */
    }
    return { status: res.status, json, text, headers: res.headers };
}

before(async () => {
    stack = await startStack();
    ({ tether } = stack);
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
});

after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await stack?.stop();
});

test('MCP client: list tools, connect in chat, wait, see it connected', async () => {
    const session = await composio.create('mcp_user', { toolkits: ['gmail', 'hackernews'] });
    assert.match(session.mcp.url, new RegExp(`^${tether.url}/tool_router/${session.sessionId}/mcp$`));
    const client = await connect(session.mcp.url);
    assert.equal(client.getServerVersion()?.name, 'tether');
    assert.ok(client.getServerCapabilities()?.tools, 'tools capability');

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of [MANAGE, WAIT, 'COMPOSIO_SEARCH_TOOLS', 'GMAIL_GET_PROFILE', 'HACKERNEWS_GET_ITEM'])
        assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    assert.ok(!names.some((n) => n.startsWith('GITHUB_')), 'only the session toolkits');
    const manage = tools.find((t) => t.name === MANAGE);
    assert.equal(manage.inputSchema.type, 'object');
    assert.deepEqual(manage.inputSchema.required, ['toolkits']);

    const first = body(await client.callTool({ name: MANAGE, arguments: { toolkits: ['gmail'] } }));
    assert.equal(first.error, null);
    assert.match(first.log_id, /^log_/);
    const g = first.data.results.gmail;
    assert.equal(g.status, 'initiated', JSON.stringify(first));

    // The agent waits while the user opens the link and signs in.
    const t0 = Date.now();
    const waiting = client.callTool({ name: WAIT, arguments: { toolkits: ['gmail'], timeout_seconds: 30 } });
    await sleep(300);
    const r = await completeConnectLink(g.redirect_url, { login: 'mcp-user' });
    assert.equal(r.status, 200, r.steps.join('\n'));
    const w = await waiting;
    assert.equal(w.isError, false);
    const wb = body(w);
    assert.equal(wb.data.all_connected, true, JSON.stringify(wb));
    assert.equal(wb.data.results.gmail.status, 'connected');
    assert.equal(wb.data.results.gmail.connected_account_id, g.connected_account_id);
    assert.ok(Date.now() - t0 < 15000, 'the wait ended when the user finished');

    const again = body(await client.callTool({ name: MANAGE, arguments: { toolkits: ['gmail'] } }));
    assert.equal(again.data.results.gmail.status, 'connected');
    assert.equal(again.data.results.gmail.connected_account_id, g.connected_account_id);

    // The account belongs to the session's user.
    const acct = await api(tether, 'GET', `/api/v3.1/connected_accounts/${g.connected_account_id}`);
    assert.equal(acct.json.user_id, 'mcp_user');
    assert.equal(acct.json.status, 'ACTIVE');

    // A tool error is a result with isError, not a protocol error.
    const bad = await client.callTool({ name: WAIT, arguments: { toolkits: [] } });
    assert.equal(bad.isError, true);
    assert.match(body(bad).error, /toolkits/);
    await client.ping();
});

/** A second project in the running server's data dir; returns its API key. */
function otherProjectKey() {
    const bin = process.env.TETHER_BIN
        ? path.resolve(process.cwd(), process.env.TETHER_BIN)
        : path.resolve(NODE_DIR, '../../build/tether');
    const out = execFileSync(bin, ['projects', 'create', 'other', '--data-dir', tether.dataDir], {
        encoding: 'utf8',
        env: { ...process.env, TETHER_API_KEY: '' },
    });
    const m = out.match(/api key \(shown once\): (\S+)/);
    assert.ok(m, out);
    return m[1];
}

test("wrong key, unknown session and another project's key are refused", async () => {
    const session = await composio.create('mcp_user2', { toolkits: ['gmail'] });
    await assert.rejects(connect(session.mcp.url, 'tk_live_wrong'), (e) => {
        assert.match(String(e.message), /401/);
        return true;
    });
    await assert.rejects(connect(session.mcp.url, ''), /401/);
    await assert.rejects(connect(`${tether.url}/tool_router/trs_unknown00000/mcp`), /404/);
    const r = await rpc(session.mcp.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { apiKey: 'nope' });
    assert.equal(r.status, 401);
    // A valid key of another project does not reach this project's session.
    const other = otherProjectKey();
    const o = await rpc(session.mcp.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { apiKey: other });
    assert.equal(o.status, 404, o.text);
});

test('manageConnections: false hides the meta tools; calling one is a JSON-RPC error', async () => {
    const session = await composio.create('mcp_user3', { toolkits: ['gmail'], manageConnections: false });
    const client = await connect(session.mcp.url);
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(!names.includes(MANAGE) && !names.includes(WAIT), names.join(', '));
    await assert.rejects(client.callTool({ name: MANAGE, arguments: { toolkits: ['gmail'] } }), (e) => {
        assert.equal(e.code, -32602);
        assert.match(e.message, /not available in this session/);
        return true;
    });
    await assert.rejects(client.callTool({ name: 'GITHUB_GET_A_REPOSITORY', arguments: {} }), (e) => e.code === -32602);
});

test('protocol version negotiation', async () => {
    const session = await composio.create('mcp_user4');
    const init = (v) =>
        rpc(session.mcp.url, {
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: v, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
        });
    for (const v of ['2025-06-18', '2025-03-26', '2024-11-05']) {
        const r = await init(v);
        assert.equal(r.status, 200);
        assert.equal(r.json.result.protocolVersion, v);
    }
    const other = await init('2099-01-01');
    assert.equal(other.json.result.protocolVersion, '2025-06-18');
    const hdr = await rpc(
        session.mcp.url,
        { jsonrpc: '2.0', id: 2, method: 'ping' },
        { headers: { 'mcp-protocol-version': '1999-01-01' } },
    );
    assert.equal(hdr.status, 400);
    const ok = await rpc(
        session.mcp.url,
        { jsonrpc: '2.0', id: 3, method: 'ping' },
        { headers: { 'mcp-protocol-version': '2025-03-26' } },
    );
    assert.deepEqual(ok.json, { jsonrpc: '2.0', id: 3, result: {} });
});

test('malformed JSON-RPC, unknown methods, wrong params and huge batches get JSON-RPC errors', async () => {
    const session = await composio.create('mcp_user5', { toolkits: ['gmail'] });
    const url = session.mcp.url;
    const parse = await rpc(url, '{"jsonrpc":"2.0",', { raw: true });
    assert.equal(parse.status, 400);
    assert.equal(parse.json.error.code, -32700);
    assert.equal(parse.json.id, null);

    const unknown = await rpc(url, { jsonrpc: '2.0', id: 'a', method: 'resources/list' });
    assert.equal(unknown.json.error.code, -32601);
    assert.equal(unknown.json.id, 'a');

    const noName = await rpc(url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: {} });
    assert.equal(noName.json.error.code, -32602);
    const badArgs = await rpc(url, {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: MANAGE, arguments: 'gmail' },
    });
    assert.equal(badArgs.json.error.code, -32602);
    const badCursor = await rpc(url, { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { cursor: 'x' } });
    assert.equal(badCursor.json.error.code, -32602);

    for (const bad of [{ id: 5, method: 'ping' }, { jsonrpc: '2.0', id: {}, method: 'ping' }, 42, 'x', null]) {
        const r = await rpc(url, bad);
        assert.equal(r.json?.error?.code, -32600, `${JSON.stringify(bad)} -> ${r.text}`);
    }

    const empty = await rpc(url, []);
    assert.equal(empty.json.error.code, -32600);
    const huge = await rpc(
        url,
        Array.from({ length: 1000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })),
    );
    assert.equal(huge.status, 400);
    assert.equal(huge.json.error.code, -32600);
    const tooBig = await rpc(url, 'x'.repeat(300 * 1024), { raw: true });
    assert.ok(tooBig.status === 413, `oversized body: ${tooBig.status}`);

    // A mixed batch: answers in order, notifications and client responses get none.
    const mixed = await rpc(url, [
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 99, result: {} },
        { jsonrpc: '2.0', id: 2, method: 'nope' },
        { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'COMPOSIO_SEARCH_TOOLS', arguments: { query: 'gmail profile' } } },
    ]);
    assert.equal(mixed.status, 200);
    assert.deepEqual(mixed.json.map((m) => m.id), [1, 2, 3]);
    assert.equal(mixed.json[1].error.code, -32601);
    assert.equal(mixed.json[2].result.isError, false);

    const notes = await rpc(url, { jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(notes.status, 202);
    assert.equal(notes.text, '');

    const get = await fetch(url, { headers: { 'x-api-key': tether.apiKey, accept: 'text/event-stream' } });
    assert.equal(get.status, 405);
    const form = await rpc(url, 'a=b', { raw: true, headers: { 'content-type': 'text/plain' } });
    assert.equal(form.status, 415);

    // Still healthy, and a real client still works.
    assert.equal((await fetch(`${tether.url}/healthz`)).status, 200);
    const client = await connect(url);
    assert.ok((await client.listTools()).tools.length > 0);
});
