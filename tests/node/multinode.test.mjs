// Three tether nodes on one PostgreSQL database, as behind a load balancer: every node advertises
// node B's address as its public URL, so the provider's callback always lands on B.
//  1. A link created and authorized through node A, the callback on node B, and a long-poll waiter
//     on node C that wakes through LISTEN/NOTIFY (the latency is reported).
//  2. 200 concurrent calls spread over the nodes that all need an expired token refreshed: one
//     refresh reaches the provider.
//  3. Node C is SIGKILLed in the middle of a burst of flows: every link creation and every
//     finished connection that a node acknowledged is still there afterwards.
// Needs TETHER_TEST_DATABASE_URL (tests/run.sh pg starts a throwaway cluster); skipped without.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    CALLBACK_PATH,
    CookieJar,
    api,
    completeConnectLink,
    freePort,
    jarFetch,
    newDatabase,
    removeDir,
    sleep,
    startProvider,
    startTether,
    tempDir,
    waitAccount,
    writeCatalog,
} from './lib/harness.mjs';

const PG = process.env.TETHER_TEST_DATABASE_URL;
const skip = PG ? false : 'needs TETHER_TEST_DATABASE_URL (run: tests/run.sh pg)';
const APP_DONE = 'http://127.0.0.1:9/done';
const AT_TTL = 3; // seconds: short, so that test 2 finds an expired token quickly

let provider;
let catalogDir;
let nodes = []; // [A, B, C], each with the shared API key
let sessionId;

/** The redirect URL of a Connect Link, moved to node n (the link itself lives in the database). */
const onNode = (url, n) => {
    const u = new URL(url);
    u.port = String(n.port);
    return u.toString();
};

before(async () => {
    if (skip) return;
    const ports = [await freePort(), await freePort(), await freePort()];
    const publicUrl = `http://127.0.0.1:${ports[1]}`;
    provider = await startProvider({
        redirectUris: [`${publicUrl}${CALLBACK_PATH}`],
        atTtl: AT_TTL,
    });
    catalogDir = writeCatalog(tempDir('tether-catalog-'), provider.issuer);
    const key = `tk_live_${randomBytes(24).toString('hex')}`;
    const env = {
        TETHER_DATABASE_URL: newDatabase(),
        TETHER_API_KEY: key,
        TETHER_REFRESH_BACKGROUND: '0', // refreshes only on demand, so test 2 counts them
    };
    const args = ['--public-url', publicUrl];
    const start = (port, extra = {}) =>
        startTether({ port, catalogDir, env: { ...env, ...extra }, args });
    const a = await start(ports[0]); // migrates and creates the project
    const masterKey = fs.readFileSync(path.join(a.dataDir, 'master.key'), 'utf8');
    const [b, c] = await Promise.all([
        start(ports[1], { TETHER_MASTER_KEY: masterKey }),
        start(ports[2], { TETHER_MASTER_KEY: masterKey }),
    ]);
    nodes = [a, b, c].map((n) => Object.assign(n, { apiKey: key }));
    const ac = await api(a, 'POST', '/api/v3.1/auth_configs', {
        toolkit: { slug: 'gmail' },
        auth_config: {
            type: 'use_custom_auth',
            authScheme: 'OAUTH2',
            credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
        },
    });
    assert.equal(ac.status, 201, ac.text);
    const s = await api(b, 'POST', '/api/v3.1/tool_router/session', { user_id: 'u_multi' });
    assert.equal(s.status, 201, s.text);
    sessionId = s.json.session_id;
});

after(async () => {
    await Promise.allSettled([...nodes.map((n) => n.stop()), provider?.stop()]);
    if (catalogDir) removeDir(catalogDir);
});

async function newLink(node, extra = {}) {
    return api(node, 'POST', `/api/v3.1/tool_router/session/${sessionId}/link`, {
        toolkit: 'gmail',
        callback_url: APP_DONE,
        ...extra,
    });
}

test('authorize on A, callback on B, a long-poll on C wakes', { skip }, async (t) => {
    const [A, B, C] = nodes;
    const link = await newLink(A);
    assert.equal(link.status, 201, link.text);
    const id = link.json.connected_account_id;
    assert.ok(link.json.redirect_url.startsWith(B.url), 'links advertise the public URL (B)');

    const waiter = api(C, 'GET', `/api/v3.1/connected_accounts/${id}?wait_ms=30000`, null, {
        timeoutMs: 40000,
    }).then((r) => ({ r, at: performance.now() }));
    await sleep(300); // parked on C

    const jar = new CookieJar();
    const flow = await completeConnectLink(onNode(link.json.redirect_url, A), {
        login: 'alice',
        jar,
        stopAt: `${B.url}${CALLBACK_PATH}`,
    });
    const steps = flow.steps.join('\n');
    assert.ok(flow.location, `the provider sends the user to B's callback\n${steps}`);
    assert.ok(
        flow.steps.some((s) => s.startsWith(`POST ${A.url}/`)),
        `the Continue form was posted to A\n${steps}`,
    );
    const t0 = performance.now();
    const cb = await jarFetch(jar, flow.location);
    const t1 = performance.now();
    assert.equal(cb.status, 302, cb.body.slice(0, 300));
    assert.ok(cb.location.startsWith(APP_DONE) && cb.location.includes('status=success'));

    const { r, at } = await waiter;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'ACTIVE');
    const sinceResponse = at - t1;
    const sinceRequest = at - t0;
    t.diagnostic(
        `C's long-poll answered ${sinceResponse.toFixed(1)} ms after B's callback response ` +
            `(${sinceRequest.toFixed(1)} ms after the callback request, which includes B's ` +
            `token exchange of ${(t1 - t0).toFixed(1)} ms)`,
    );
    assert.ok(sinceRequest < 3000, `C woke ${sinceRequest} ms after the callback request`);
});

const REFRESH_TEST = '200 concurrent refresh triggers on three nodes: one refresh at the provider';
test(REFRESH_TEST, { skip }, async (t) => {
    const [A, B] = nodes;
    const link = await newLink(B);
    assert.equal(link.status, 201, link.text);
    const done = await completeConnectLink(onNode(link.json.redirect_url, A), {
        login: 'bob',
        stopAt: APP_DONE,
    });
    assert.ok(done.location?.includes('status=success'), done.steps.join('\n'));
    const id = link.json.connected_account_id;
    await waitAccount(A, id, (a) => a.status === 'ACTIVE');
    await sleep(AT_TTL * 1000 + 500); // the access token has expired

    const before = (await provider.stats()).grants.refresh_token;
    const calls = [];
    for (let k = 0; k < 200; k++) {
        calls.push(
            api(nodes[k % 3], 'POST', `/api/v3.1/tool_router/session/${sessionId}/proxy_execute`, {
                toolkit_slug: 'gmail',
                endpoint: '/me',
                method: 'GET',
                parameters: [],
                connected_account_id: id,
            }, { timeoutMs: 60000 }),
        );
    }
    const results = await Promise.all(calls);
    const after = (await provider.stats()).grants.refresh_token;
    const ok = results.filter((r) => r.status === 200).length;
    t.diagnostic(`${ok}/200 calls answered 200; refresh grants at the provider: ${after - before}`);
    assert.equal(after - before, 1, 'exactly one refresh reached the provider');
    assert.equal(ok, 200, results.find((r) => r.status !== 200)?.text);
});

test('SIGKILL of a node mid-burst loses nothing that was acknowledged', { skip }, async (t) => {
    const [A, B, C] = nodes;
    const created = new Set(); // link creation answered 201
    const connected = new Set(); // the flow ended at the app with status=success
    let failed = 0;
    let killedAt = null;
    const FLOWS = 45;
    const flow = async (k) => {
        const node = nodes[k % 3];
        try {
            const link = await newLink(node, { callback_url: `${APP_DONE}?k=${k}` });
            if (link.status !== 201) throw new Error(`link: ${link.status}`);
            created.add(link.json.connected_account_id);
            if (created.size === 12 && killedAt === null) {
                killedAt = created.size;
                C.process.kill('SIGKILL');
            }
            const r = await completeConnectLink(onNode(link.json.redirect_url, node), {
                login: `user${k}`,
                stopAt: APP_DONE,
                timeoutMs: 15000,
            });
            if (!r.location?.includes('status=success')) {
                throw new Error(`flow ended at ${r.status} ${r.location}`);
            }
            connected.add(link.json.connected_account_id);
        } catch {
            failed += 1; // a refused connection to the killed node, or an unfinished flow
        }
    };
    const queue = [...Array(FLOWS).keys()];
    await Promise.all(
        Array.from({ length: 8 }, async () => {
            while (queue.length) await flow(queue.shift());
        }),
    );
    t.diagnostic(
        `C killed after ${killedAt} links; ${created.size} links created, ` +
            `${connected.size} connected, ${failed} flows cut short`,
    );
    assert.notEqual(killedAt, null, 'the node was killed during the burst');
    let lost = 0;
    let notActive = 0;
    for (const id of created) {
        const r = await api(A, 'GET', `/api/v3.1/connected_accounts/${id}`);
        if (r.status !== 200) lost += 1;
        else if (connected.has(id) && r.json.status !== 'ACTIVE') notActive += 1;
    }
    assert.equal(lost, 0, 'every acknowledged link creation is in the database');
    assert.equal(notActive, 0, 'every acknowledged connection is ACTIVE');
    for (const n of [A, B]) {
        const h = await fetch(`${n.url}/healthz`);
        assert.equal(h.status, 200, 'the surviving nodes still serve');
    }
});
