// Bad input across every route: the route table is read from src/server/routes.c, so a new route
// is covered the day it is added. Each route gets malformed path parameters, query strings and (for
// POST/PATCH) bodies: bad JSON, wrong types, huge values, invalid UTF-8; a handful of requests
// abuse the HTTP layer itself (headers, framing, methods, versions). Requests go over raw sockets
// so that the bytes are exactly ours. Every answer must be a 4xx (never a 5xx, never a dropped or
// hung connection), API answers must carry the error JSON, bad input must create nothing, and
// afterwards the server must still answer at the speed it had before.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CookieJar, REPO_ROOT, api, jarFetch, parseForms, startTether } from './lib/harness.mjs';

let tether;
const fx = {}; // fixtures: ids of real objects, so that handlers get past "not found"
const failures = [];
let total = 0;

// ---- the route table ------------------------------------------------------------------------

/** [{method, pattern, handler, auth, path(prefix)}] from routes.c; "@" patterns become /api/v3.1. */
function readRoutes() {
    const src = fs.readFileSync(path.join(REPO_ROOT, 'src/server/routes.c'), 'utf8');
    const re = /\{\s*"([A-Z]+)",\s*"([^"]+)",\s*(\w+),\s*(AUTH_\w+)\s*\}/g;
    const out = [];
    for (const m of src.matchAll(re)) {
        const [, method, pattern, handler, auth] = m;
        const api = pattern.startsWith('@');
        out.push({ method, pattern, handler, auth, api, path: api ? `/api/v3.1${pattern.slice(1)}` : pattern });
    }
    return out;
}

/** A valid value for the parameter {name} that follows segment prev. */
function fixtureFor(prev, name) {
    const byPrev = {
        session: fx.sid,
        tool_router: fx.sid,
        connected_accounts: fx.account,
        auth_configs: fx.authConfig,
        toolkits: 'github',
        tools: fx.tool,
        execute: fx.tool,
        link: fx.linkToken,
        logos: 'github.svg',
        accounts: fx.account,
    };
    const byName = { slug: 'github', action: 'disable' };
    return byPrev[prev] ?? byName[name] ?? 'x';
}

/** The route's path with every parameter filled; bad (optional) replaces parameter number badAt. */
function fill(route, badAt = -1, bad = '') {
    const segs = route.path.split('/');
    let n = 0;
    return segs
        .map((s, i) => {
            if (!/^\{\w+\}$/.test(s)) return s;
            const v = n++ === badAt ? bad : encodeURIComponent(fixtureFor(segs[i - 1], s.slice(1, -1)));
            return v;
        })
        .join('/');
}

/** The dashboard session cookie for dashboard paths (signed in once in before()), else null. */
function cookieFor(target) {
    if (!fx.dashCookie || !target.startsWith('/dashboard') || target.startsWith('/dashboard/sign'))
        return null;
    return fx.dashCookie;
}

/** Signs in to the dashboard with the API key when the server has one; the cookie or null. */
async function dashboardSignIn(routes) {
    if (!routes.some((r) => r.path === '/dashboard/signin' && r.method === 'POST')) return null;
    const jar = new CookieJar();
    const page = await jarFetch(jar, `${tether.url}/dashboard/signin`);
    const form = parseForms(page.body, page.url).find((f) => f.method === 'post');
    if (page.status !== 200 || !form) return null;
    const r = await jarFetch(jar, form.action, { method: 'POST', form: { ...form.inputs, api_key: tether.apiKey } });
    const cookie = jar.header(`${tether.url}/dashboard/accounts`);
    return r.status === 302 && cookie ? cookie : null;
}

const nparams = (route) => (route.path.match(/\{\w+\}/g) ?? []).length;

/** A body a handler would accept (or nearly): the base that one bad field is put into. */
function validBody(route) {
    const bodies = {
        api_session_create: { user_id: 'u_bad' },
        api_session_update: { manage_connections: { enable: true } },
        api_session_link: { toolkit: 'github' },
        api_session_execute: { tool_slug: fx.tool, arguments: {} },
        api_session_execute_meta: { tool_slug: 'COMPOSIO_SEARCH_TOOLS', arguments: {} },
        api_account_link: { auth_config_id: fx.authConfig, user_id: 'u_bad' },
        api_account_status: { enabled: true },
        api_auth_config_create: {
            toolkit: { slug: 'github' },
            auth_config: { type: 'use_custom_auth', credentials: { client_id: 'a', client_secret: 'b' } },
        },
        api_project_settings_update: { callback_origins: ['https://app.example'] },
        api_tool_execute: { connected_account_id: fx.account, arguments: {} },
        api_tool_proxy: { endpoint: '/user', method: 'GET', connected_account_id: fx.account },
        api_session_proxy: { toolkit_slug: 'github', endpoint: '/user', method: 'GET' },
        mcp_post: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        api_webhook_create: { url: 'https://hooks.example/tether', events: ['connected_account.active'] },
        api_webhook_update: { disabled: true },
    };
    return bodies[route.handler] ?? { name: 'x' };
}

// ---- raw HTTP -------------------------------------------------------------------------------

/** Sends bytes on a fresh connection; resolves {status, headers, body} or {dropped|hung: true}. */
function rawSend(bytes, { timeoutMs = 15000 } = {}) {
    return new Promise((resolve) => {
        const sock = net.connect(tether.port, '127.0.0.1');
        const chunks = [];
        let done = false;
        const finish = (r) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            sock.destroy();
            resolve(r);
        };
        const timer = setTimeout(() => finish({ hung: true }), timeoutMs);
        sock.on('connect', () => sock.end(bytes));
        sock.on('data', (b) => {
            chunks.push(b);
            const r = parseResponse(Buffer.concat(chunks));
            if (r) finish(r);
        });
        sock.on('error', () => {}); // a reset after the answer is fine; no answer is judged below
        sock.on('close', () => finish(parseResponse(Buffer.concat(chunks), true) ?? { dropped: true }));
    });
}

/** A complete response in buf, or null (when final, whatever arrived). */
function parseResponse(buf, final = false) {
    let end = buf.indexOf('\r\n\r\n');
    while (end >= 0 && /^HTTP\/1\.[01] 1\d\d/.test(buf.subarray(0, 12).toString('latin1'))) {
        buf = buf.subarray(end + 4); // an interim answer (100 Continue): the real one follows
        end = buf.indexOf('\r\n\r\n');
    }
    if (end < 0) return null;
    const head = buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = head[0].match(/^HTTP\/1\.[01] (\d{3})/);
    if (!m) return final ? { garbage: head[0] } : null;
    const headers = {};
    for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    let body = buf.subarray(end + 4);
    const cl = headers['content-length'];
    if (cl !== undefined) {
        if (body.length < Number(cl)) return final ? { truncated: true } : null;
        body = body.subarray(0, Number(cl));
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const d = dechunk(body);
        if (!d) return final ? { truncated: true } : null;
        body = d;
    } else if (!final) {
        return null;
    }
    return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

function dechunk(b) {
    const out = [];
    let i = 0;
    for (;;) {
        const eol = b.indexOf('\r\n', i);
        if (eol < 0) return null;
        const n = parseInt(b.subarray(i, eol).toString('latin1'), 16);
        if (Number.isNaN(n)) return null;
        if (n === 0) return Buffer.concat(out);
        if (b.length < eol + 2 + n + 2) return null;
        out.push(b.subarray(eol + 2, eol + 2 + n));
        i = eol + 2 + n + 2;
    }
}

/** One request as bytes. target is sent as is (already encoded, or deliberately not). */
function request(method, target, opts = {}) {
    const { body, contentType = 'application/json', headers = [], key = true } = opts;
    const cookie = 'cookie' in opts ? opts.cookie : cookieFor(target);
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    if (key) lines.push(`x-api-key: ${tether.apiKey}`);
    if (cookie) lines.push(`Cookie: ${cookie}`);
    const b = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    if (b) lines.push(`Content-Type: ${contentType}`, `Content-Length: ${b.length}`);
    lines.push(...headers);
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    return b ? Buffer.concat([head, b]) : head;
}

// ---- judging --------------------------------------------------------------------------------

function errorShapeProblem(r) {
    let j;
    try {
        j = JSON.parse(r.body);
    } catch {
        return `not JSON: ${r.body.slice(0, 120)}`;
    }
    const e = j?.error;
    if (!e || typeof e.message !== 'string' || !e.message) return 'no error.message';
    if (typeof e.code !== 'number') return 'no numeric error.code';
    if (e.status !== r.status) return `error.status ${e.status} != ${r.status}`;
    if (!/^req_/.test(e.request_id ?? '')) return 'no request_id';
    return null;
}

/** A JSON-RPC error answer (the MCP endpoint answers protocol errors that way). */
function isJsonRpcError(r) {
    try {
        const j = JSON.parse(r.body);
        const one = Array.isArray(j) ? j[0] : j;
        return one?.jsonrpc === '2.0' && typeof one.error?.code === 'number';
    } catch {
        return false;
    }
}

/**
 * Judges one answer. opts.api: the answer must carry the error JSON. opts.rpc: a JSON-RPC error
 * with 200 also counts as a refusal. opts.lenient: any status below 500 is fine (the input is odd
 * but may be acceptable, e.g. an unknown query argument).
 */
function judge(name, r, { api: isApi = false, rpc = false, lenient = false, redirect = null } = {}) {
    total++;
    let why = null;
    if (redirect && r.status === 302 && (r.headers.location ?? '').startsWith(redirect)) return;
    if (r.hung) why = 'no answer (hung)';
    else if (r.dropped) why = 'connection dropped without an answer';
    else if (r.garbage !== undefined) why = `not HTTP: ${r.garbage.slice(0, 80)}`;
    else if (r.truncated) why = 'truncated answer';
    else if (r.status >= 500) why = `status ${r.status}: ${r.body.slice(0, 200)}`;
    else if (r.status >= 400) {
        if (isApi) why = errorShapeProblem(r);
    } else if (!lenient && !(rpc && isJsonRpcError(r))) {
        why = `status ${r.status}, want 4xx: ${r.body.slice(0, 200)}`;
    } else if (rpc && r.status >= 200 && r.status < 300 && !lenient && !isJsonRpcError(r)) {
        why = `status ${r.status} without a JSON-RPC error`;
    }
    if (why) failures.push(`${name}: ${why}`);
}

/** Runs [name, bytes, opts] cases with a few connections at a time. */
async function runCases(cases, width = 8) {
    let next = 0;
    const worker = async () => {
        while (next < cases.length) {
            const [name, bytes, opts] = cases[next++];
            judge(name, await rawSend(bytes), opts);
        }
    };
    await Promise.all(Array.from({ length: width }, worker));
}

// ---- the cases ------------------------------------------------------------------------------

const BAD_PARAMS = [
    ['junk', 'x'],
    ['long', 'A'.repeat(3000)],
    ['bad utf-8', '%ff%fe'],
    ['overlong slash', '%c0%af'],
    ['nul', '%00'],
    ['dot-dot', '..'],
    ['encoded dot-dot', '%2e%2e'],
    ['encoded slash', 'a%2fb'],
    ['crlf', 'ca_%0d%0aSet-Cookie:%20x=1'],
    ['emoji', encodeURIComponent('\u{1F600}')],
    ['sql', encodeURIComponent("' OR 1=1 --")],
    ['prefix and junk', `trs_${'z'.repeat(200)}`],
    ['lone surrogate', '%ed%a0%80'],
];

// Query strings every route must refuse (checked before routing).
const BAD_QUERIES = [
    ['bad utf-8 value', 'a=%ff'],
    ['bad utf-8 key', '%fe%ff=1'],
    ['surrogate', 'q=%ed%b0%80'],
    ['long key', `${'k'.repeat(300)}=1`],
    ['long value', `v=${'x'.repeat(5000)}`],
    // more than URL_MAX_PAIRS (64); far more (about 120 with 8 KiB connection pools) exhausts the
    // pool, which libmicrohttpd 0.9.75 answers by holding the connection until the idle timeout
    // (slowloris.sh covers that case)
    ['too many args', Array.from({ length: 80 }, (_, i) => `a${i}=1`).join('&')],
];

// Query strings with odd values for the arguments some routes read: below 500 for all routes,
// a 4xx with the error shape where the route refuses them.
const ODD_QUERIES = [
    'limit=abc',
    'limit=-1',
    'limit=99999999999999999999999',
    'limit=1e3',
    'wait_ms=-5',
    'wait_ms=999999999',
    'wait_ms=0x10',
    `cursor=${'z'.repeat(300)}`,
    'cursor=%00',
    `user_ids=${'a,'.repeat(500)}`,
    `toolkit_slugs=${',,,'.repeat(100)}`,
    'statuses=BOGUS',
    'order_direction=sideways',
    'search=%25%00%25',
    'limit=1&limit=2',
    'toolkit_slug=',
    'important=maybe',
    'offset=-3',
];

/** Bodies that are not a JSON object at all (or not JSON). */
function badBodies() {
    const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    return [
        ['empty', ''],
        ['open brace', '{'],
        ['close brace', '}'],
        ['array', '[]'],
        ['string', '"x"'],
        ['null', 'null'],
        ['number', '0'],
        ['true', 'true'],
        ['duplicate keys', '{"a":1,"a":1}'],
        ['trailing garbage', '{"a":1} x'],
        ['two objects', '{}{}'],
        ['single quotes', "{'a':1}"],
        ['comment', '{/* */"a":1}'],
        ['nan', '{"a":NaN}'],
        ['huge number', '{"a":1e99999}'],
        ['huge integer', '{"a":123456789012345678901234567890}'],
        ['nul escape', '{"a":"\\u0000"}'],
        ['lone surrogate escape', '{"a":"\\ud800"}'],
        ['bad utf-8 in string', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
        ['bad utf-8 key', Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])],
        ['raw nul', Buffer.from('{"a":"\0"}', 'latin1')],
        ['bom', '\ufeff{}'],
        ['deep nesting', deep],
        ['deep objects', `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`],
        ['unterminated string', '{"a":"abc'],
        ['control char', '{"a":"\u0001"}'],
        ['too large', `{"a":"${'x'.repeat(300 * 1024)}"}`],
    ];
}

/** One bad value for one field of an otherwise acceptable body. */
const BAD_VALUES = [
    ['number', 123],
    ['negative float', -1e308],
    ['huge string', 'x'.repeat(200 * 1024)],
    ['nested arrays', [[[]]]],
    ['array of numbers', [1, 2, 3]],
];

// POST routes that take no body and ignore one (an action on the resource in the path)
const BODYLESS = new Set(['api_webhook_rotate', 'api_webhook_replay']);
// POST routes whose body is optional: no body at all is a valid request, any other bad body is not
const OPTIONAL_BODY = new Set(['api_account_refresh']);

function bodyCases(route) {
    const target = fill(route);
    const isApi = route.api || route.auth === 'AUTH_KEY';
    const rpc = route.handler === 'mcp_post';
    // JSON-RPC takes any id and ignores unknown members: odd values there may be answered
    const opts = BODYLESS.has(route.handler)
        ? { api: isApi, lenient: true }
        : { api: isApi && !rpc, rpc };
    const fieldOpts = rpc ? { lenient: true } : opts;
    const cases = [];
    const label = `${route.method} ${route.pattern}`;
    const send = (name, body, o, extra = {}) =>
        cases.push([`${label} ${name}`, request(route.method, target, { body, ...extra }), o]);
    if (route.auth === 'AUTH_PAGE') {
        // form pages: garbage forms, a missing or wrong CSRF token, oversized, wrong type
        const forms = [
            ['no fields', ''],
            ['no csrf', 'submit=1'],
            ['wrong csrf', 'csrf=AAAA&submit=1'],
            ['bad escape', 'csrf=%zz&api_key=%'],
            ['bad utf-8', 'csrf=%ff%fe&api_key=%c0%af'],
            ['many fields', Array.from({ length: 500 }, (_, i) => `f${i}=1`).join('&')],
            ['too large', `csrf=${'x'.repeat(300 * 1024)}`],
        ];
        for (const [n, b] of forms) send(`form ${n}`, b, {}, { contentType: FORM, key: false });
        send('json body', '{"a":1}', {}, { key: false });
        return cases;
    }
    for (const [n, b] of badBodies()) {
        if (!(n === 'empty' && OPTIONAL_BODY.has(route.handler))) send(`body ${n}`, b, opts);
    }
    const base = validBody(route);
    send('unknown field', JSON.stringify({ ...base, zz_unknown: 1 }), fieldOpts);
    for (const field of Object.keys(base)) {
        for (const [n, v] of BAD_VALUES) send(`${field}=${n}`, JSON.stringify({ ...base, [field]: v }), fieldOpts);
    }
    send('text/plain', JSON.stringify(base), opts, { contentType: 'text/plain' });
    return cases;
}

const FORM = 'application/x-www-form-urlencoded';

function allCases(routes) {
    const cases = [];
    for (const route of routes) {
        const label = `${route.method} ${route.pattern}`;
        const isApi = route.auth === 'AUTH_KEY';
        const rpc = route.handler === 'mcp_post';
        const hasBody = route.method === 'POST' || route.method === 'PATCH';
        const body = hasBody ? JSON.stringify(validBody(route)) : undefined;
        const add = (name, target, o, extra = {}) =>
            cases.push([`${label} ${name}`, request(extra.method ?? route.method, target, { body, ...extra }), o]);
        // every parameter, each bad value (the body is a valid one, so the path is what fails)
        for (let p = 0; p < nparams(route); p++) {
            for (const [n, v] of BAD_PARAMS) add(`param ${p} ${n}`, fill(route, p, v), { api: isApi || v === '%ff%fe' });
        }
        for (const [n, q] of BAD_QUERIES) add(`query ${n}`, `${fill(route)}?${q}`, { api: true });
        if (route.method === 'GET') {
            for (const q of ODD_QUERIES) add(`odd query ${q.slice(0, 40)}`, `${fill(route)}?${q}`, { api: isApi, lenient: true });
        }
        if (isApi) {
            const keyed = (name, header, o = { api: true }) =>
                add(name, fill(route), o, { key: false, headers: header ? [header] : [] });
            keyed('no key', null, { api: true, rpc });
            keyed('wrong key', 'x-api-key: tk_live_wrong');
            keyed('bad utf-8 key', 'x-api-key: \xff\xfe\xc0\xaf');
            keyed('long key', `x-api-key: ${'k'.repeat(3000)}`);
        }
        if (route.path.startsWith('/dashboard') && !route.path.startsWith('/dashboard/sign')) {
            // signed out, any parameter: the sign-in page (or a refusal), never an error
            const p = nparams(route) ? fill(route, 0, '%2e%2e') : fill(route);
            add('signed out', p, { redirect: '/dashboard/signin' },
                { body: hasBody ? 'csrf=x' : undefined, contentType: FORM, key: false, cookie: null });
        }
        if (hasBody) cases.push(...bodyCases(route));
        // another method on the path: 405 (or 404) with the error shape
        const other = route.method === 'DELETE' ? 'PUT' : 'DELETE';
        if (!routes.some((r) => r.pattern === route.pattern && r.method === other))
            add(`as ${other}`, fill(route), { api: true }, { method: other, body: undefined });
        if (route.api) {
            const v3 = fill(route).replace('/api/v3.1/', '/api/v3/');
            add('v3 bad utf-8', `${v3}?x=%ff`, { api: true });
        }
    }
    return cases;
}

/** Abuse of the HTTP layer itself: framing, methods, versions, header shapes. */
function protocolCases() {
    const key = `x-api-key: ${tether.apiKey}`;
    const acc = '/api/v3.1/connected_accounts';
    const link = `${acc}/link`;
    const bytes = (s) => Buffer.from(s, 'latin1');
    // a request line, header lines (Connection: close added) and a body, exactly as given
    const raw = (line, headers = [], body = '') =>
        bytes(`${line}\r\n${[...headers, 'Connection: close'].map((h) => `${h}\r\n`).join('')}\r\n${body}`);
    const post = (headers, body) => raw(`POST ${link} HTTP/1.1`, ['Host: x', key, ...headers], body);
    const chunks = Array.from({ length: 80 }, () => `1000\r\n${'a'.repeat(4096)}\r\n`).join('');
    const pads = Array.from({ length: 40 }, (_, i) => `x-pad-${i}: ${'p'.repeat(500)}`);
    const cookie = `Cookie: ;;;=;=\xff\xfe; a=b=c; ${'c'.repeat(3000)}`;
    const JSON_CT = 'Content-Type: application/json';
    const big = 'a'.repeat(400000);
    // [name, bytes, opts]; lenient: MHD may accept an odd but legal form
    return [
        ['unknown method', request('FOO', acc), { api: true }],
        ['lower-case method', request('get', acc), { api: true }],
        ['no leading slash', raw('GET connected_accounts HTTP/1.1', ['Host: x', key]), {}],
        ['asterisk target', raw('GET * HTTP/1.1', ['Host: x']), {}],
        ['absolute-form target', raw(`GET http://127.0.0.1${acc}?x=%ff HTTP/1.1`, ['Host: x', key]), {}],
        ['missing Host on 1.1', raw(`GET ${acc} HTTP/1.1`, [key]), { lenient: true }],
        ['header without colon', raw(`GET ${acc} HTTP/1.1`, ['Host: x', key, 'nonsense']), { lenient: true }],
        ['space before colon', raw(`GET ${acc} HTTP/1.1`, ['Host: x', `x-api-key : ${tether.apiKey}`]), { lenient: true }],
        ['obs-fold', raw(`GET ${acc} HTTP/1.1`, ['Host: x', 'x-api-key: a', ' b']), {}],
        ['nul in header', raw(`GET ${acc} HTTP/1.1`, ['Host: x', 'x-api-key: a\0b']), {}],
        ['bad content-length', post(['Content-Length: abc'], '{}'), {}],
        ['negative content-length', post(['Content-Length: -1'], '{}'), {}],
        ['two content-lengths', post(['Content-Length: 2', 'Content-Length: 3'], '{}'), {}],
        ['bad chunk size', post(['Transfer-Encoding: chunked'], 'zz\r\n{}\r\n0\r\n\r\n'), {}],
        ['chunked and length', post(['Transfer-Encoding: chunked', 'Content-Length: 4'], '2\r\n{}\r\n0\r\n\r\n'), {}],
        ['huge chunk', post(['Transfer-Encoding: chunked'], 'fffffffffffffffff\r\n{}\r\n0\r\n\r\n'), {}],
        ['unknown transfer-encoding', post(['Transfer-Encoding: gzip'], '{}'), {}],
        ['chunked over the cap', post([JSON_CT, 'Transfer-Encoding: chunked'], `${chunks}0\r\n\r\n`), { api: true }],
        ['expect 100 over the cap', post([JSON_CT, 'Expect: 100-continue', 'Content-Length: 400000'], big), { api: true }],
        ['url over 2 KiB', request('GET', `${acc}/${'a'.repeat(2100)}`), { api: true }],
        ['url over 16 KiB', request('GET', `${acc}/${'a'.repeat(17000)}`), {}],
        ['headers over 16 KiB', request('GET', acc, { headers: pads }), {}],
        ['one header over 16 KiB', request('GET', acc, { headers: [`x-big: ${'b'.repeat(20000)}`] }), {}],
        ['cookie garbage', request('GET', `/link/${fx.linkToken}`, { key: false, headers: [cookie] }), { lenient: true }],
        ['HTTP/1.0 unknown route', bytes('GET /nothing HTTP/1.0\r\n\r\n'), { api: true }],
        ['version 1.7', raw(`GET ${acc} HTTP/1.7`, ['Host: x']), { lenient: true }],
        ['version garbage', raw(`GET ${acc} HTTQ/x`, ['Host: x']), {}],
        ['bare LF lines', bytes('GET /nope HTTP/1.1\nHost: x\nConnection: close\n\n'), { lenient: true }],
        ['content-type garbage', request('POST', link, { body: '{}', contentType: '\xff\xfe;;;charset' }), { api: true }],
    ];
}

// ---- the test -------------------------------------------------------------------------------

async function timeSequentialGets(n) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
        const p = i % 2 ? '/healthz' : '/api/v3.1/toolkits?limit=1';
        const r = await fetch(`${tether.url}${p}`, { headers: { 'x-api-key': tether.apiKey } });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`GET ${p}: ${r.status}`);
    }
    return performance.now() - t0;
}

async function counts() {
    const a = await api(tether, 'GET', '/api/v3.1/connected_accounts?limit=1');
    const c = await api(tether, 'GET', '/api/v3.1/auth_configs?limit=1');
    return { accounts: a.json?.total_items, authConfigs: c.json?.total_items ?? c.json?.items?.length };
}

let baselineMs;

before(async () => {
    tether = await startTether({ env: { TETHER_RATE_API: '0', TETHER_RATE_PAGES: '0' }, linkTtl: 600 });
    const ac = await api(tether, 'POST', '/api/v3.1/auth_configs', {
        toolkit: { slug: 'github' },
        auth_config: { type: 'use_custom_auth', credentials: { client_id: 'cid', client_secret: 'cs' } },
    });
    assert.equal(ac.status, 201, ac.text);
    fx.authConfig = ac.json.auth_config.id;
    const s = await api(tether, 'POST', '/api/v3.1/tool_router/session', { user_id: 'u_bad' });
    assert.equal(s.status, 201, s.text);
    fx.sid = s.json.session_id;
    const l = await api(tether, 'POST', `/api/v3.1/tool_router/session/${fx.sid}/link`, { toolkit: 'github' });
    assert.equal(l.status, 201, l.text);
    fx.account = l.json.connected_account_id;
    fx.linkToken = new URL(l.json.redirect_url).pathname.split('/').pop();
    const t = await api(tether, 'GET', '/api/v3.1/tools?toolkit_slug=github&limit=1');
    assert.equal(t.status, 200, t.text);
    fx.tool = t.json.items?.[0]?.slug ?? 'GITHUB_GET_THE_AUTHENTICATED_USER';
    fx.dashCookie = await dashboardSignIn(readRoutes());
    await timeSequentialGets(200); // warm up
    baselineMs = await timeSequentialGets(1000);
});

after(async () => {
    await tether?.stop();
});

test('every route refuses malformed requests with a 4xx, never a 5xx or a dropped connection', async () => {
    const routes = readRoutes();
    assert.ok(routes.length >= 30, `only ${routes.length} routes read from routes.c`);
    const before_ = await counts();
    const cases = allCases(routes);
    await runCases(cases);
    await runCases(protocolCases(), 4);
    console.log(`# ${total} malformed requests over ${routes.length} routes`);
    assert.ok(total >= 500, `only ${total} cases`);
    assert.deepEqual(failures, [], `${failures.length} of ${total} cases failed:\n${failures.slice(0, 60).join('\n')}`);
    assert.deepEqual(await counts(), before_, 'bad input created or removed nothing');
});

test('the server is healthy and as fast as before', async () => {
    assert.equal(tether.process.exitCode, null, 'the server is still running');
    assert.equal((await fetch(`${tether.url}/healthz`)).status, 200);
    const ms = await timeSequentialGets(2000);
    const per = ms / 2000;
    const basePer = baselineMs / 1000;
    console.log(`# before: ${basePer.toFixed(3)} ms/request, after: ${per.toFixed(3)} ms/request`);
    assert.ok(ms < 30000, `2000 sequential GETs took ${ms.toFixed(0)} ms`);
    assert.ok(per < basePer * 3 + 0.5, `slower after the bad input: ${per.toFixed(3)} vs ${basePer.toFixed(3)} ms/request`);
    const log = tether.logs();
    assert.ok(!/AddressSanitizer|runtime error:/.test(log), 'no sanitizer report in the server output');
});
