// Test harness: starts tether and the local OAuth2 provider as child processes on free loopback
// ports, writes catalogue overrides that point toolkits at the provider, and plays the end user
// through a Connect Link over plain HTTP with a small cookie jar.
//
// Every process started here is killed and every temp dir removed when the test process exits,
// even when a test throws; stop() does the same earlier and politely (SIGTERM, then SIGKILL).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const NODE_DIR = path.resolve(HERE, '..');
export const REPO_ROOT = path.resolve(NODE_DIR, '../..');
export const CALLBACK_PATH = '/api/v3/toolkits/auth/callback';

const children = new Set();
const tempDirs = new Set();
process.on('exit', () => {
    for (const c of children) {
        try {
            c.kill('SIGKILL');
        } catch {
            /* already gone */
        }
    }
    for (const d of tempDirs) {
        try {
            fs.rmSync(d, { recursive: true, force: true });
        } catch {
            /* best effort */
        }
    }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => process.exit(130));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A temp dir that is removed at exit at the latest. */
export function tempDir(prefix = 'tether-test-') {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    tempDirs.add(d);
    return d;
}

export function removeDir(d) {
    fs.rmSync(d, { recursive: true, force: true });
    tempDirs.delete(d);
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function tetherBin() {
    const bin = process.env.TETHER_BIN
        ? path.resolve(process.cwd(), process.env.TETHER_BIN)
        : path.resolve(NODE_DIR, '../../build/tether');
    if (!fs.existsSync(bin)) {
        throw new Error(`tether binary not found at ${bin} (run make, or set TETHER_BIN)`);
    }
    return bin;
}

// Spawns a child whose output is collected into a capped buffer. Returns {child, logs(), exited}.
function spawnLogged(cmd, args, opts) {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const chunks = [];
    let size = 0;
    const cap = 16 * 1024 * 1024;
    const collect = (b) => {
        if (size < cap) {
            chunks.push(b);
            size += b.length;
        }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            children.delete(child);
            resolve({ code, signal });
        });
        child.on('error', (err) => {
            children.delete(child);
            resolve({ code: -1, signal: null, err });
        });
    });
    return {
        child,
        exited,
        logs: () => Buffer.concat(chunks).toString('utf8'),
        bytes: () => Buffer.concat(chunks),
    };
}

async function terminate(proc, graceMs = 5000) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
    proc.child.kill('SIGTERM');
    const t = setTimeout(() => {
        try {
            proc.child.kill('SIGKILL');
        } catch {
            /* gone */
        }
    }, graceMs);
    const r = await proc.exited;
    clearTimeout(t);
    return r;
}

async function waitFor(what, fn, { timeoutMs = 10000, intervalMs = 50, proc } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
            throw new Error(
                `${what}: process exited early (code ${proc.child.exitCode}, ` +
                    `signal ${proc.child.signalCode})\n--- output ---\n${proc.logs().slice(-4000)}`,
            );
        }
        try {
            const v = await fn();
            if (v) return v;
        } catch (e) {
            last = e;
        }
        await sleep(intervalMs);
    }
    throw new Error(
        `${what}: timed out after ${timeoutMs} ms${last ? ` (last error: ${last.message})` : ''}` +
            (proc ? `\n--- output ---\n${proc.logs().slice(-4000)}` : ''),
    );
}

/**
 * A new empty database on the PostgreSQL cluster of TETHER_TEST_DATABASE_URL (the `pg` suite of
 * tests/run.sh sets it); returns its URL. With that variable set, every startTether gets one of
 * its own, so a suite runs against PostgreSQL unchanged.
 */
export function newDatabase(clusterUrl = process.env.TETHER_TEST_DATABASE_URL) {
    if (!clusterUrl) throw new Error('newDatabase: TETHER_TEST_DATABASE_URL is not set');
    return execFileSync(path.join(REPO_ROOT, 'scripts', 'pg.sh'), ['newdb', clusterUrl], {
        encoding: 'utf8',
    }).trim();
}

/**
 * Starts `tether serve` on a free port with a temp data dir.
 * opts: {port, catalogDir, linkTtl, env, args}
 * Returns {url, port, apiKey, dataDir, logs(), logBytes(), stop({keepData})}.
 */
export async function startTether(opts = {}) {
    const bin = tetherBin();
    const port = opts.port ?? (await freePort());
    const dataDir = tempDir('tether-data-');
    const apiKey = `tk_live_${randomBytes(24).toString('hex')}`;
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
    if (opts.catalogDir) args.push('--catalog-dir', opts.catalogDir);
    if (opts.linkTtl != null) args.push('--link-ttl', String(opts.linkTtl));
    args.push('--allow-http', ...(opts.args ?? []));
    const env = { ...process.env, TETHER_API_KEY: apiKey, ...(opts.env ?? {}) };
    for (const k of [
        'TETHER_LISTEN',
        'TETHER_PUBLIC_URL',
        'TETHER_DATA_DIR',
        'TETHER_DATABASE_URL',
        'TETHER_CATALOG_DIR',
        'TETHER_LINK_TTL',
    ]) {
        if (!(opts.env && k in opts.env)) delete env[k];
    }
    if (process.env.TETHER_TEST_DATABASE_URL && !(opts.env && 'TETHER_DATABASE_URL' in opts.env)) {
        env.TETHER_DATABASE_URL = newDatabase();
    }
    const proc = spawnLogged(bin, args, { env, cwd: dataDir });
    const url = `http://127.0.0.1:${port}`;
    let stopped = false;
    const stop = async ({ keepData = false } = {}) => {
        if (!stopped) {
            stopped = true;
            await terminate(proc);
        }
        if (!keepData) removeDir(dataDir);
    };
    try {
        await waitFor(
            'tether /healthz',
            async () => (await fetch(`${url}/healthz`)).status === 200,
            { timeoutMs: 10000, proc },
        );
    } catch (e) {
        await stop();
        throw e;
    }
    return {
        url,
        port,
        apiKey,
        dataDir,
        databaseUrl: env.TETHER_DATABASE_URL ?? null, // null: SQLite in dataDir
        logs: proc.logs,
        logBytes: proc.bytes,
        stop,
        process: proc.child,
    };
}

/**
 * Starts provider.mjs (oidc-provider) on a free port.
 * opts: {port, redirectUris: [..], atTtl}
 * Returns {issuer, port, stats(), setMode(m), logs(), stop()}.
 */
export async function startProvider(opts = {}) {
    const port = opts.port ?? (await freePort());
    const env = {
        ...process.env,
        PORT: String(port),
        REDIRECT_URIS: (opts.redirectUris ?? []).join(','),
        AT_TTL: String(opts.atTtl ?? 3600),
        NODE_NO_WARNINGS: '1',
    };
    const proc = spawnLogged(process.execPath, [path.join(NODE_DIR, 'provider.mjs')], {
        env,
        cwd: NODE_DIR,
    });
    const issuer = `http://127.0.0.1:${port}`;
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        await terminate(proc, 3000);
    };
    try {
        await waitFor('provider ready', () => proc.logs().includes(`provider ready ${issuer}`), {
            timeoutMs: 10000,
            proc,
        });
    } catch (e) {
        await stop();
        throw e;
    }
    return {
        issuer,
        port,
        logs: proc.logs,
        stop,
        async stats() {
            const r = await fetch(`${issuer}/__stats`);
            if (r.status !== 200) throw new Error(`provider /__stats: HTTP ${r.status}`);
            return r.json();
        },
        async setMode(mode) {
            const r = await fetch(`${issuer}/__mode`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ token: mode }),
            });
            if (r.status !== 200)
                throw new Error(`provider /__mode ${mode}: HTTP ${r.status} ${await r.text()}`);
        },
    };
}

// Shipped catalogue entries, or a minimal stand-in with the same shape when the file is absent.
function shippedEntry(slug, name) {
    const f = path.join(REPO_ROOT, 'catalog', 'toolkits', `${slug}.json`);
    if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, 'utf8'));
    return {
        slug,
        name,
        description: `${name} (test copy)`,
        logo: `${slug}.svg`,
        categories: ['test'],
        base_url: 'https://example.invalid',
        auth_schemes: [{ type: 'OAUTH2' }],
        tools: [],
    };
}

/** The OAUTH2 scheme fields that point a toolkit at the local provider. */
export function providerScheme(issuer, tokenAuth = 'client_secret_post') {
    return {
        type: 'OAUTH2',
        authorize_url: `${issuer}/auth`,
        token_url: `${issuer}/token`,
        revoke_url: `${issuer}/token/revocation`,
        userinfo_url: `${issuer}/me`,
        identity_field: 'email',
        scopes: ['openid', 'offline_access', 'email'],
        scope_separator: ' ',
        pkce: true,
        authorize_params: { prompt: 'consent' },
        token_auth: tokenAuth,
    };
}

/**
 * Writes gmail.json and github.json into dir: copies of the shipped entries whose OAUTH2 scheme
 * points at the provider at issuer, plus "oidcbasic.json" (slug "oidcbasic"), the same provider
 * with token_auth client_secret_basic, and openweathermap.json (API_KEY) whose key check goes to
 * the provider's /__keycheck (keys starting with "bad" are refused). Returns dir.
 */
export function writeCatalog(dir, issuer) {
    fs.mkdirSync(dir, { recursive: true });
    const point = (entry) => {
        const schemes = Array.isArray(entry.auth_schemes) ? entry.auth_schemes : [];
        const i = schemes.findIndex((s) => s.type === 'OAUTH2');
        const scheme = { ...(i >= 0 ? schemes[i] : {}), ...providerScheme(issuer) };
        const rest = schemes.filter((s, j) => j !== i);
        return { ...entry, base_url: issuer, auth_schemes: [scheme, ...rest] };
    };
    const gmail = point(shippedEntry('gmail', 'Gmail'));
    const github = point(shippedEntry('github', 'GitHub'));
    const basic = {
        ...gmail,
        slug: 'oidcbasic',
        name: 'OIDC Basic',
        description: 'Local test provider, client_secret_basic',
        tools: [],
        auth_schemes: [providerScheme(issuer, 'client_secret_basic')],
    };
    fs.writeFileSync(path.join(dir, 'gmail.json'), JSON.stringify(gmail, null, 2));
    fs.writeFileSync(path.join(dir, 'github.json'), JSON.stringify(github, null, 2));
    fs.writeFileSync(path.join(dir, 'oidcbasic.json'), JSON.stringify(basic, null, 2));
    const owm = shippedEntry('openweathermap', 'OpenWeather');
    owm.base_url = issuer;
    owm.auth_schemes = (owm.auth_schemes ?? []).map((sc) =>
        sc.type === 'API_KEY'
            ? { ...sc, test_request: { method: 'GET', url: `${issuer}/__keycheck` } }
            : sc,
    );
    fs.writeFileSync(path.join(dir, 'openweathermap.json'), JSON.stringify(owm, null, 2));
    return dir;
}

/**
 * The usual pair: a provider whose redirect URI is tether's callback, a catalogue pointing gmail,
 * github and oidcbasic at it, and tether. opts: {linkTtl, atTtl, env}.
 * Returns {tether, provider, catalogDir, stop()}.
 */
export async function startStack(opts = {}) {
    const port = await freePort();
    const provider = await startProvider({
        redirectUris: [`http://127.0.0.1:${port}${CALLBACK_PATH}`],
        atTtl: opts.atTtl,
    });
    const catalogDir = writeCatalog(tempDir('tether-catalog-'), provider.issuer);
    let tether;
    try {
        tether = await startTether({ port, catalogDir, linkTtl: opts.linkTtl, env: opts.env });
    } catch (e) {
        await provider.stop();
        throw e;
    }
    return {
        tether,
        provider,
        catalogDir,
        async stop() {
            await Promise.allSettled([tether.stop(), provider.stop()]);
            removeDir(catalogDir);
        },
    };
}

// ---- the end user, over HTTP --------------------------------------------------------------

/** A cookie jar keyed by host name (ports share cookies, as in browsers) and path. */
export class CookieJar {
    constructor() {
        this.cookies = new Map();
    }

    store(url, res) {
        const u = new URL(url);
        const lines =
            typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
        for (const line of lines) {
            const [pair, ...attrs] = line.split(';');
            const eq = pair.indexOf('=');
            if (eq <= 0) continue;
            const name = pair.slice(0, eq).trim();
            const value = pair.slice(eq + 1).trim();
            let cpath = u.pathname.replace(/\/[^/]*$/, '') || '/';
            let expired = false;
            for (const a of attrs) {
                const [k, ...v] = a.split('=');
                const key = k.trim().toLowerCase();
                const val = v.join('=').trim();
                if (key === 'path' && val.startsWith('/')) cpath = val;
                if (key === 'max-age' && Number(val) <= 0) expired = true;
                if (key === 'expires' && Date.parse(val) < Date.now()) expired = true;
            }
            const id = `${u.hostname}|${cpath}|${name}`;
            if (expired) this.cookies.delete(id);
            else this.cookies.set(id, { host: u.hostname, path: cpath, name, value });
        }
    }

    header(url) {
        const u = new URL(url);
        const out = [];
        for (const c of this.cookies.values()) {
            if (c.host !== u.hostname) continue;
            if (!(
                u.pathname === c.path ||
                u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) ||
                c.path === '/'
            ))
                continue;
            out.push(`${c.name}=${c.value}`);
        }
        return out.join('; ');
    }
}

/** fetch without following redirects, with the jar.
 * Returns {status, location, body, url, headers}. */
export async function jarFetch(
    jar,
    url,
    { method = 'GET', form, headers = {}, timeoutMs = 30000 } = {},
) {
    const h = { ...headers };
    const cookie = jar.header(url);
    if (cookie) h.cookie = cookie;
    let body;
    if (form) {
        body = new URLSearchParams(form).toString();
        h['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(url, {
        method,
        headers: h,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
    });
    jar.store(url, res);
    const text = await res.text();
    const loc = res.headers.get('location');
    return {
        status: res.status,
        location: loc ? new URL(loc, url).toString() : null,
        body: text,
        url,
        headers: res.headers,
    };
}

const decodeEntities = (s) =>
    s
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&#x27;/g, "'")
        .replace(/&#x2F;/g, '/')
        .replace(/&#47;/g, '/')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');

function attr(tag, name) {
    const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i'));
    return m ? decodeEntities(m[1] ?? m[2] ?? m[3]) : null;
}

/** Every <form> in html: [{action, method, inputs:{name:value}, fields:[names]}]. */
export function parseForms(html, baseUrl) {
    const forms = [];
    const re = /<form\b([^>]*)>([\s\S]*?)<\/form>/gi;
    let m;
    while ((m = re.exec(html)) !== null) {
        const tag = `<form ${m[1]}>`;
        const inputs = {};
        const fields = [];
        for (const im of m[2].matchAll(/<input\b[^>]*>/gi)) {
            const name = attr(im[0], 'name');
            if (!name) continue;
            fields.push(name);
            const type = (attr(im[0], 'type') || 'text').toLowerCase();
            if (type === 'hidden' || !(name in inputs)) inputs[name] = attr(im[0], 'value') ?? '';
        }
        for (const bm of m[2].matchAll(/<button\b[^>]*>/gi)) {
            const name = attr(bm[0], 'name');
            if (name && !(name in inputs)) inputs[name] = attr(bm[0], 'value') ?? '';
        }
        const action = attr(tag, 'action');
        forms.push({
            action: new URL(action ?? '', baseUrl).toString(),
            method: (attr(tag, 'method') || 'get').toLowerCase(),
            inputs,
            fields,
        });
    }
    return forms;
}

function postForm(html, pageUrl) {
    const form = parseForms(html, pageUrl).find((f) => f.method === 'post');
    if (!form) throw new Error(`no <form method="post"> on ${pageUrl}:\n${html.slice(0, 2000)}`);
    return form;
}

/**
 * Plays the end user through a Connect Link for an OAuth2 toolkit: opens tether's page, submits its
 * form (with the CSRF token and cookie), signs in at the provider as `login`, consents (or aborts
 * when deny), and follows the redirects back through tether's callback.
 * Stops at the first Location that starts with stopAt (not fetched), or at the first page that is
 * not a redirect.
 * Returns {location, status, body, url, callbackUrl, linkPage, steps}: location is the stopAt
 * Location (null when the flow ended on a page); callbackUrl is the tether callback URL the
 * provider sent the user to (for replays).
 */
export async function completeConnectLink(redirectUrl, opts = {}) {
    const {
        login = 'alice',
        deny = false,
        stopAt = null,
        jar = new CookieJar(),
        timeoutMs = 30000,
    } = opts;
    const steps = [];
    const linkPage = await jarFetch(jar, redirectUrl, { timeoutMs });
    steps.push(`GET ${redirectUrl} -> ${linkPage.status}`);
    if (linkPage.status !== 200) {
        return { location: null, ...linkPage, linkPage, callbackUrl: null, steps };
    }
    const form = postForm(linkPage.body, redirectUrl);
    let r = await jarFetch(jar, form.action, { method: 'POST', form: form.inputs, timeoutMs });
    steps.push(`POST ${form.action} -> ${r.status} ${r.location ?? ''}`);
    let callbackUrl = null;
    for (let i = 0; i < 20; i++) {
        if (r.location && stopAt && r.location.startsWith(stopAt)) {
            return { ...r, location: r.location, linkPage, callbackUrl, steps };
        }
        if (!r.location) {
            const interaction = r.url.match(/\/interaction\/([^/?#]+)$/);
            if (r.status === 200 && interaction) {
                const isLogin = /name="prompt"\s+value="login"/.test(r.body);
                const isConsent = /name="prompt"\s+value="consent"/.test(r.body);
                if (deny && (isConsent || (isLogin && opts.denyAtLogin))) {
                    const abortUrl = new URL(
                        `/interaction/${interaction[1]}/abort`,
                        r.url,
                    ).toString();
                    r = await jarFetch(jar, abortUrl, { timeoutMs });
                    steps.push(`GET ${abortUrl} -> ${r.status} ${r.location ?? ''}`);
                    continue;
                }
                const f = postForm(r.body, r.url);
                const values = isLogin
                    ? { ...f.inputs, prompt: 'login', login, password: 'any-password' }
                    : { ...f.inputs, prompt: 'consent' };
                const at = r.url;
                r = await jarFetch(jar, f.action, { method: 'POST', form: values, timeoutMs });
                const kind = isLogin ? 'login' : 'consent';
                steps.push(`POST ${at} (${kind}) -> ${r.status} ${r.location ?? ''}`);
                continue;
            }
            return { ...r, location: null, linkPage, callbackUrl, steps };
        }
        const next = r.location;
        if (next.includes(CALLBACK_PATH)) callbackUrl = next;
        r = await jarFetch(jar, next, { timeoutMs });
        steps.push(`GET ${next} -> ${r.status} ${r.location ?? ''}`);
    }
    throw new Error(`completeConnectLink: too many steps\n${steps.join('\n')}`);
}

/**
 * Fills the key form of a Connect Link (API_KEY, BEARER_TOKEN, BASIC toolkits) with fields and
 * submits it; follows redirects on tether until stopAt or a page. Same result shape as above.
 */
export async function fillKeyForm(redirectUrl, fields, opts = {}) {
    const { stopAt = null, jar = new CookieJar(), timeoutMs = 30000 } = opts;
    const steps = [];
    const linkPage = await jarFetch(jar, redirectUrl, { timeoutMs });
    steps.push(`GET ${redirectUrl} -> ${linkPage.status}`);
    if (linkPage.status !== 200) return { location: null, ...linkPage, linkPage, steps };
    const form = postForm(linkPage.body, redirectUrl);
    let r = await jarFetch(jar, form.action, {
        method: 'POST',
        form: { ...form.inputs, ...fields },
        timeoutMs,
    });
    steps.push(`POST ${form.action} -> ${r.status} ${r.location ?? ''}`);
    for (let i = 0; i < 10; i++) {
        if (!r.location) return { ...r, location: null, linkPage, steps };
        if (stopAt && r.location.startsWith(stopAt)) return { ...r, linkPage, steps };
        const next = r.location;
        r = await jarFetch(jar, next, { timeoutMs });
        steps.push(`GET ${next} -> ${r.status} ${r.location ?? ''}`);
    }
    throw new Error(`fillKeyForm: too many redirects\n${steps.join('\n')}`);
}

// ---- small helpers for tests ----------------------------------------------------------------

/** Calls tether's JSON API with the key. Returns {status, json, text, ms}. */
export async function api(
    tether,
    method,
    p,
    body,
    { apiKey = tether.apiKey, timeoutMs = 30000 } = {},
) {
    const t0 = performance.now();
    const res = await fetch(`${tether.url}${p}`, {
        method,
        headers: { 'x-api-key': apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch {
        /* not JSON */
    }
    return { status: res.status, json, text, ms: performance.now() - t0 };
}

/** Polls GET connected_accounts/{id} until pred(account) or timeout; returns the account. */
export async function waitAccount(tether, id, pred, { timeoutMs = 20000 } = {}) {
    let last;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const r = await api(
            tether,
            'GET',
            `/api/v3.1/connected_accounts/${encodeURIComponent(id)}`,
        );
        last = r.json;
        if (r.status === 200 && pred(r.json)) return r.json;
        await sleep(100);
    }
    throw new Error(
        `account ${id}: condition not met in ${timeoutMs} ms; last: ${JSON.stringify(last)}`,
    );
}

/** Captures console.warn for the life of the test file; returns {warnings, restore()}. */
export function captureWarnings() {
    const warnings = [];
    const orig = console.warn;
    console.warn = (...a) => {
        warnings.push(a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
        orig(...a);
    };
    return {
        warnings,
        transformFailures: () => warnings.filter((w) => w.includes('Transform validation failed')),
        restore: () => {
            console.warn = orig;
        },
    };
}
