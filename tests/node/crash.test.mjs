// Crash safety: a burst of 1,000 Connect Link creations, a quarter of them played through the real
// OAuth provider (oidc-provider) and tether's callback, many at a time; tether is SIGKILLed at a
// random point of the burst and restarted on the same data directory. Then every link whose
// creation was acknowledged (201) has its account; every callback that sent the app its
// status=success redirect left an ACTIVE account whose stored credentials work (a proxy call
// answers with the right identity); no account is ACTIVE unless its callback was at least sent;
// and every account that did not finish becomes EXPIRED once the link TTL has passed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import path from 'node:path';
import { after, test } from 'node:test';
import {
    CALLBACK_PATH,
    CookieJar,
    NODE_DIR,
    api,
    completeConnectLink,
    freePort,
    jarFetch,
    removeDir,
    sleep,
    startProvider,
    tempDir,
    writeCatalog,
} from './lib/harness.mjs';

const TOTAL = 1000; // link creations planned in the burst
const FLOW_EVERY = 4; // every fourth link is played through the provider
const WIDTH = 16; // requests in flight
const LINK_TTL_S = 10; // long enough for a flow on a loaded machine, short enough to wait for
const APP_CB = 'http://app.test/cb';

let provider;
let server; // {child, exited, logs()}
let catalogDir;
let dataDir;
const apiKey = `tk_live_${randomBytes(24).toString('hex')}`;

after(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGTERM');
        await Promise.race([server.exited, sleep(5000)]);
        if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
    await provider?.stop();
    if (catalogDir) removeDir(catalogDir);
    if (dataDir) removeDir(dataDir);
});

/** Starts tether on port with the fixed data dir (so that a restart finds the same state). */
async function startServer(port) {
    const bin = process.env.TETHER_BIN
        ? path.resolve(process.cwd(), process.env.TETHER_BIN)
        : path.resolve(NODE_DIR, '../../build/tether');
    const env = { ...process.env, TETHER_API_KEY: apiKey, TETHER_RATE_API: '0', TETHER_RATE_PAGES: '0' };
    for (const k of Object.keys(env)) {
        if (/^TETHER_(LISTEN|PUBLIC_URL|DATA_DIR|DATABASE_URL|CATALOG_DIR|LINK_TTL)$/.test(k)) delete env[k];
    }
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
        '--catalog-dir', catalogDir, '--link-ttl', String(LINK_TTL_S), '--allow-http'];
    const child = spawn(bin, args, { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (b) => {
        if (out.length < 4 * 1024 * 1024) out += b;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const s = { child, exited, logs: () => out, url: `http://127.0.0.1:${port}`, apiKey };
    for (let i = 0; i < 200; i++) {
        if (child.exitCode !== null) throw new Error(`tether exited early:\n${out.slice(-3000)}`);
        try {
            if ((await fetch(`${s.url}/healthz`)).status === 200) return s;
        } catch {
            /* not up yet */
        }
        await sleep(50);
    }
    throw new Error(`tether did not start:\n${out.slice(-3000)}`);
}

/** Plays the end user up to tether's callback, sends it, and records what came back. */
async function playFlow(rec, redirectUrl) {
    const jar = new CookieJar();
    const r = await completeConnectLink(redirectUrl, {
        login: rec.login,
        jar,
        stopAt: `${server.url}${CALLBACK_PATH}`,
    });
    if (!r.location) throw new Error(`flow ${rec.login} ended on a page: ${r.status}`);
    rec.callbackSent = true;
    const cb = await jarFetch(jar, r.location);
    const loc = cb.location ? new URL(cb.location) : null;
    if (cb.status === 302 && loc && `${loc.origin}${loc.pathname}` === APP_CB &&
        loc.searchParams.get('status') === 'success')
        rec.success = true;
    else rec.why = `${cb.status} ${cb.location ?? cb.body.slice(0, 200)}`;
}

test('SIGKILL during a burst of link creations and callbacks loses nothing acknowledged', async () => {
    const port = await freePort();
    provider = await startProvider({ redirectUris: [`http://127.0.0.1:${port}${CALLBACK_PATH}`] });
    catalogDir = writeCatalog(tempDir('tether-catalog-'), provider.issuer);
    dataDir = tempDir('tether-crash-');
    server = await startServer(port);
    const ac = await api(server, 'POST', '/api/v3.1/auth_configs', {
        toolkit: { slug: 'gmail' },
        auth_config: {
            type: 'use_custom_auth',
            authScheme: 'OAUTH2',
            credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
        },
    });
    assert.equal(ac.status, 201, ac.text);
    const authConfig = ac.json.auth_config.id;

    // ---- the burst, killed after a random number of acknowledged creations (and a few successes) ----
    const killAfter = randomInt(150, 401);
    const recs = []; // acknowledged links: {id, login, flow, callbackSent, success}
    let started = 0;
    let killed = false;
    const kill = () => {
        if (killed) return;
        killed = true;
        server.child.kill('SIGKILL');
    };
    const worker = async () => {
        while (!killed && started < TOTAL) {
            const i = started++;
            let res;
            try {
                res = await api(server, 'POST', '/api/v3.1/connected_accounts/link', {
                    auth_config_id: authConfig,
                    user_id: `crash_user_${i % 7}`,
                    callback_url: APP_CB,
                });
            } catch {
                break; // the server is gone
            }
            if (res.status !== 201) {
                if (!killed) throw new Error(`link ${i}: ${res.status} ${res.text}`);
                break;
            }
            const rec = { id: res.json.connected_account_id, login: `u${i}`, flow: i % FLOW_EVERY === 0 };
            recs.push(rec);
            if (rec.flow) await playFlow(rec, res.json.redirect_url).catch(() => {});
            if (recs.length >= killAfter && recs.filter((r) => r.success).length >= 5) kill();
        }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: WIDTH }, worker));
    kill(); // in case the burst finished first
    const exit = await server.exited;
    assert.equal(exit.signal, 'SIGKILL', 'the server was killed, not stopped');
    const successes = recs.filter((r) => r.success);
    const sent = recs.filter((r) => r.callbackSent);
    console.log(
        `# killed after ${recs.length} acknowledged links (target ${killAfter}) in ${Date.now() - t0} ms; ` +
            `${sent.length} callbacks sent, ${successes.length} succeeded`,
    );
    const whys = recs.filter((r) => r.why).map((r) => r.why);
    assert.ok(successes.length >= 5, `only ${successes.length} flows succeeded before the kill: ${whys.slice(0, 5)}`);

    // ---- restart on the same data dir ----
    const killedLogs = server.logs();
    server = await startServer(port);
    const byId = new Map(recs.map((r) => [r.id, r]));

    // every acknowledged link has its account; every success is ACTIVE with its own identity
    const accounts = new Map();
    for (const rec of recs) {
        const g = await api(server, 'GET', `/api/v3.1/connected_accounts/${rec.id}`);
        assert.equal(g.status, 200, `acknowledged account ${rec.id} is missing after the restart: ${g.text}`);
        accounts.set(rec.id, g.json);
        if (rec.success) {
            assert.equal(g.json.status, 'ACTIVE', `account ${rec.id} had status=success but is ${g.json.status}`);
            if (g.json.data?.identity !== undefined)
                assert.equal(g.json.data.identity, `${rec.login}@example.test`, `account ${rec.id} identity`);
        }
    }

    // nothing half-written: an account is ACTIVE (or FAILED) only if its callback was sent
    const list = await api(server, 'GET', '/api/v3.1/connected_accounts?limit=1000');
    assert.equal(list.status, 200, list.text);
    assert.ok(list.json.total_items >= recs.length, 'the list holds every acknowledged account');
    assert.ok(list.json.total_items <= recs.length + WIDTH, 'at most one unacknowledged link per connection');
    for (const a of list.json.items.filter((x) => x.status === 'ACTIVE' || x.status === 'FAILED')) {
        const rec = byId.get(a.id);
        assert.ok(rec?.callbackSent, `account ${a.id} is ${a.status} but its callback was never sent`);
    }
    for (const a of list.json.items) {
        assert.ok(
            ['ACTIVE', 'INITIATED', 'INITIALIZING', 'EXPIRED', 'FAILED'].includes(a.status),
            `account ${a.id} has status ${a.status}`,
        );
    }

    // the stored credentials of ACTIVE accounts decrypt and work: the provider knows who they are
    // (a sample of the successes, and every ACTIVE one whose answer the kill cut off)
    const cutOff = recs.filter((r) => !r.success && accounts.get(r.id)?.status === 'ACTIVE');
    for (const rec of [...successes.slice(0, 10), ...cutOff]) {
        const p = await api(server, 'POST', '/api/v3.1/tools/execute/proxy', {
            endpoint: '/me',
            method: 'GET',
            connected_account_id: rec.id,
        });
        assert.equal(p.status, 200, `proxy with ${rec.id}: ${p.text}`);
        assert.ok(JSON.stringify(p.json).includes(`${rec.login}@example.test`), `proxy identity: ${p.text.slice(0, 300)}`);
    }

    // the unfinished ones expire normally
    const deadline = Date.now() + (LINK_TTL_S + 20) * 1000;
    let pending;
    for (;;) {
        const l = await api(server, 'GET', '/api/v3.1/connected_accounts?limit=1000');
        pending = l.json.items.filter((a) => a.status === 'INITIATED' || a.status === 'INITIALIZING');
        const wrong = l.json.items.filter(
            (a) => (a.status === 'ACTIVE' || a.status === 'FAILED') && !byId.get(a.id)?.callbackSent,
        );
        assert.deepEqual(wrong.map((a) => `${a.id}:${a.status}`), [], 'no account is decided on its own');
        if (pending.length === 0 || Date.now() > deadline) break;
        await sleep(500);
    }
    assert.deepEqual(
        pending.map((a) => `${a.id}:${a.status}`),
        [],
        'every unfinished account is EXPIRED after the link TTL',
    );

    // and the restarted server still connects accounts
    const l = await api(server, 'POST', '/api/v3.1/connected_accounts/link', {
        auth_config_id: authConfig,
        user_id: 'after_restart',
        callback_url: APP_CB,
    });
    assert.equal(l.status, 201, l.text);
    const rec = { id: l.json.connected_account_id, login: 'after' };
    await playFlow(rec, l.json.redirect_url);
    assert.ok(rec.success, 'a flow after the restart succeeds');
    const g = await api(server, 'GET', `/api/v3.1/connected_accounts/${rec.id}`);
    assert.equal(g.json.status, 'ACTIVE');
    assert.ok(!/AddressSanitizer|runtime error:/.test(killedLogs + server.logs()), 'no sanitizer report');
});
