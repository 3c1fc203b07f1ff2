// Connect Links end to end: the seed's "Putting it together" program on @composio/core 0.19.0,
// a real OAuth2 provider (oidc-provider), and the end user played over HTTP. Failure paths
// (denied, token endpoint hanging / 500 / garbage), replayed and forged callbacks, expiry,
// the long-poll, client_secret_basic, and no plaintext tokens at rest or in logs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { format } from 'node:util';
import { after, before, test } from 'node:test';
import {
    CALLBACK_PATH,
    CookieJar,
    api,
    captureWarnings,
    completeConnectLink,
    jarFetch,
    removeDir,
    sleep,
    startStack,
    startTether,
    waitAccount,
} from './lib/harness.mjs';

process.env.TELEMETRY_DISABLED = 'true';
const { Composio, ConnectionRequestFailedError } = await import('@composio/core');

const APP = 'https://your-app.example/callback';
const CALLBACK_URL = `${APP}?user_id=user_123&source=onboarding`;
let stack;
let tether;
let provider;
let composio;
let warn;

const sdk = (t) =>
    new Composio({
        apiKey: t.apiKey,
        baseURL: t.url,
        allowTracking: false,
        disableVersionCheck: true,
    });

async function customAuth(client, slug, clientId = 'tether-post') {
    return client.authConfigs.create(slug, {
        type: 'use_custom_auth',
        authScheme: 'OAUTH2',
        credentials: { client_id: clientId, client_secret: `${clientId}-secret` },
    });
}

function query(url) {
    return Object.fromEntries(new URL(url).searchParams);
}

function assertAppCallback(r, status, what) {
    assert.ok(
        r.location,
        `${what}: expected a redirect to ${APP}, flow ended on HTTP ${r.status}\n` +
            `${r.steps.join('\n')}\n${r.body?.slice(0, 500)}`,
    );
    const q = query(r.location);
    assert.equal(
        q.user_id,
        'user_123',
        `${what}: the app's own parameters are kept (${r.location})`,
    );
    assert.equal(
        q.source,
        'onboarding',
        `${what}: the app's own parameters are kept (${r.location})`,
    );
    assert.equal(q.status, status, `${what}: status=${status} expected in ${r.location}`);
    return q;
}

before(async () => {
    warn = captureWarnings();
    stack = await startStack();
    ({ tether, provider } = stack);
    composio = sdk(tether);
    await customAuth(composio, 'gmail');
    await customAuth(composio, 'github');
    await customAuth(composio, 'oidcbasic', 'tether-basic');
});

after(async () => {
    warn?.restore();
    await stack?.stop();
});

test('the seed program "Putting it together" connects gmail and github', async (t) => {
    const out = [];
    const plays = [];
    let userFailed;
    const failFast = new Promise((resolve, reject) => {
        userFailed = reject;
    });
    failFast.catch(() => {});
    // The user: every Connect Link the program prints is opened and finished.
    const console = {
        log: (...a) => {
            const line = format(...a);
            out.push(line);
            const m = line.match(/^Connect (\w+): (\S+)$/);
            if (!m) return;
            const play = completeConnectLink(m[2], { login: 'user_123', stopAt: APP }).then(
                (r) => ({ slug: m[1], r }),
            );
            play.catch((e) =>
                userFailed(new Error(`playing the user for ${m[1]} failed: ${e.stack}`)),
            );
            plays.push(play);
        },
    };

    async function program() {
        // ---- the seed's program; only apiKey/baseURL (and the callback URL) differ ----
        const composio = new Composio({
            apiKey: tether.apiKey,
            baseURL: tether.url,
            allowTracking: false,
            disableVersionCheck: true,
        });

        const requiredToolkits = ['gmail', 'github'];

        const session = await composio.create('user_123', {
            manageConnections: false, // Disable in-chat auth prompts
        });

        const toolkits = await session.toolkits();

        const connected = toolkits.items
            .filter((t) => t.connection?.connectedAccount)
            .map((t) => t.slug);

        const pending = requiredToolkits.filter((slug) => !connected.includes(slug));

        console.log('Connected:', connected);
        console.log('Pending:', pending);

        for (const slug of pending) {
            const connectionRequest = await session.authorize(slug, { callbackUrl: CALLBACK_URL });
            console.log(`Connect ${slug}: ${connectionRequest.redirectUrl}`);
            await connectionRequest.waitForConnection();
        }

        console.log('All toolkits connected!');
    }

    const t0 = Date.now();
    await Promise.race([program(), failFast]);
    const results = await Promise.all(plays);
    t.diagnostic(`program output (${Date.now() - t0} ms):`);
    for (const l of out) t.diagnostic(`  ${l}`);

    assert.deepEqual(
        results.map((x) => x.slug),
        ['gmail', 'github'],
        'the program should ask for gmail, then github',
    );
    assert.ok(out.includes('All toolkits connected!'), 'the program should finish');
    for (const { slug, r } of results) {
        const q = assertAppCallback(r, 'success', slug);
        assert.match(
            q.connected_account_id ?? '',
            /^ca_/,
            `${slug}: connected_account_id in the callback`,
        );
        const acct = await composio.connectedAccounts.get(q.connected_account_id);
        assert.equal(acct.status, 'ACTIVE', `${slug}: account ACTIVE`);
        assert.equal(acct.toolkit?.slug, slug, `${slug}: account toolkit`);
    }

    // Run it again: both are connected now, so nothing is pending.
    out.length = 0;
    await program();
    assert.equal(plays.length, 2, 'a second run must not ask for any connection');
    assert.ok(
        out.includes('Pending: []'),
        `second run: nothing pending, got ${JSON.stringify(out)}`,
    );
});

test('access_denied at the provider: FAILED, status=failed, waitForConnection throws', async () => {
    const session = await composio.create('user_123', { manageConnections: false });
    const req = await session.authorize('gmail', { callbackUrl: CALLBACK_URL });
    const r = await completeConnectLink(req.redirectUrl, { deny: true, stopAt: APP });
    const q = assertAppCallback(r, 'failed', 'denied');
    if (q.connected_account_id) assert.equal(q.connected_account_id, req.id);
    let err;
    try {
        await req.waitForConnection(10000);
    } catch (e) {
        err = e;
    }
    assert.ok(
        err instanceof ConnectionRequestFailedError,
        'waitForConnection should throw ConnectionRequestFailedError, got ' +
            `${err?.constructor?.name}: ${err?.message}`,
    );
    const acct = await composio.connectedAccounts.get(req.id);
    assert.equal(acct.status, 'FAILED');
});

for (const mode of ['hang', '500', 'garbage']) {
    test(`token endpoint "${mode}": account FAILED, status=failed`, async (t) => {
        const session = await composio.create('user_123', { manageConnections: false });
        const req = await session.authorize('github', { callbackUrl: CALLBACK_URL });
        await provider.setMode(mode);
        const t0 = Date.now();
        let r;
        try {
            r = await completeConnectLink(req.redirectUrl, { stopAt: APP, timeoutMs: 40000 });
        } finally {
            await provider.setMode('normal');
        }
        const ms = Date.now() - t0;
        t.diagnostic(`token endpoint ${mode}: user sent back after ${ms} ms`);
        assertAppCallback(r, 'failed', `token ${mode}`);
        if (mode === 'hang')
            assert.ok(
                ms < 30000,
                `a hanging token endpoint must time out well before 30 s (${ms} ms)`,
            );
        const acct = await waitAccount(tether, req.id, (a) => a.status !== 'INITIATED', {
            timeoutMs: 5000,
        });
        assert.equal(acct.status, 'FAILED', `account after token ${mode}`);
        assert.ok(acct.status_reason, 'a FAILED account carries a status_reason');
    });
}

test('replayed callback and forged state change nothing', async () => {
    const session = await composio.create('user_123', { manageConnections: false });
    const req = await session.authorize('gmail', { callbackUrl: CALLBACK_URL });
    const r = await completeConnectLink(req.redirectUrl, { stopAt: APP });
    assertAppCallback(r, 'success', 'first use');
    assert.ok(
        r.callbackUrl?.includes(CALLBACK_PATH),
        "the provider sent the user to tether's callback",
    );
    const before = await provider.stats();

    const replay = await jarFetch(new CookieJar(), r.callbackUrl);
    const failed =
        replay.status >= 400 || (replay.location && query(replay.location).status === 'failed');
    assert.ok(
        failed,
        `a replayed callback must fail: HTTP ${replay.status} ${replay.location ?? ''}`,
    );
    assert.ok(
        !(replay.location && query(replay.location).status === 'success'),
        'a replay must never report success',
    );
    const afterStats = await provider.stats();
    assert.equal(
        afterStats.grants.authorization_code,
        before.grants.authorization_code,
        'a replayed state must be refused before any token request',
    );
    const acct = await composio.connectedAccounts.get(req.id);
    assert.equal(acct.status, 'ACTIVE', 'the replay must not change the ACTIVE account');

    const forged = await jarFetch(
        new CookieJar(),
        `${tether.url}${CALLBACK_PATH}?code=abc&state=not-a-real-state`,
    );
    assert.equal(
        forged.status,
        400,
        `an unknown state gets a 400 page, got ${forged.status} ${forged.location ?? ''}`,
    );
    const missing = await jarFetch(new CookieJar(), `${tether.url}${CALLBACK_PATH}`);
    assert.equal(
        missing.status,
        400,
        `a callback without code/state gets 400, got ${missing.status}`,
    );
});

test('an unfinished link expires: account EXPIRED, page says so', async () => {
    const short = await startTether({ catalogDir: stack.catalogDir, linkTtl: 2 });
    try {
        const c = sdk(short);
        await customAuth(c, 'gmail');
        const session = await c.create('user_123', { manageConnections: false });
        const req = await session.authorize('gmail', { callbackUrl: CALLBACK_URL });
        await sleep(3000);
        const page = await jarFetch(new CookieJar(), req.redirectUrl);
        assert.match(
            page.body,
            /expired/i,
            `the link page should say it expired (HTTP ${page.status})`,
        );
        assert.ok(!page.location, 'an expired link must not send the user to the provider');
        const acct = await waitAccount(short, req.id, (a) => a.status !== 'INITIATED', {
            timeoutMs: 8000,
        });
        assert.equal(acct.status, 'EXPIRED', 'the account of an expired link is EXPIRED');
        let err;
        try {
            await req.waitForConnection(3000);
        } catch (e) {
            err = e;
        }
        assert.ok(
            err instanceof ConnectionRequestFailedError,
            `waitForConnection on EXPIRED: ${err?.constructor?.name}`,
        );
    } finally {
        await short.stop();
    }
});

test('long-poll answers as soon as the user finishes', async (t) => {
    const session = await composio.create('user_123', { manageConnections: false });
    const req = await session.authorize('gmail', { callbackUrl: CALLBACK_URL });
    const t0 = performance.now();
    let pollDone;
    const poll = api(tether, 'GET', `/api/v3.1/connected_accounts/${req.id}?wait_ms=20000`).then(
        (r) => {
            pollDone = performance.now();
            return r;
        },
    );
    await sleep(500);
    assert.equal(pollDone, undefined, 'the long-poll must wait while the account is INITIATED');
    const r = await completeConnectLink(req.redirectUrl, { stopAt: APP });
    const userDone = performance.now();
    const p = await poll;
    assertAppCallback(r, 'success', 'long-poll flow');
    assert.equal(p.status, 200);
    assert.equal(p.json?.status, 'ACTIVE', 'the long-poll returns the account, now ACTIVE');
    const lag = pollDone - userDone;
    t.diagnostic(
        `long-poll: answered ${lag.toFixed(1)} ms after the user's redirect ` +
            `(total wait ${(pollDone - t0).toFixed(0)} ms)`,
    );
    assert.ok(
        lag < 1000,
        `the long-poll should answer within a second of the user finishing (${lag.toFixed(1)} ms)`,
    );

    // Without a change, it answers at the deadline with the same body.
    const t1 = performance.now();
    const idle = await api(tether, 'GET', `/api/v3.1/connected_accounts/${req.id}?wait_ms=300`);
    assert.equal(idle.status, 200);
    assert.ok(
        performance.now() - t1 < 2000,
        'a settled account answers without waiting the full time',
    );
});

test('client_secret_basic clients work too', async () => {
    const session = await composio.create('user_123', { manageConnections: false });
    const req = await session.authorize('oidcbasic', { callbackUrl: CALLBACK_URL });
    const r = await completeConnectLink(req.redirectUrl, { stopAt: APP });
    assertAppCallback(r, 'success', 'client_secret_basic');
    const acct = await req.waitForConnection(10000);
    assert.equal(acct.status, 'ACTIVE');
});

function leaks(bytes, secrets) {
    return secrets.filter((s) => s && bytes.includes(Buffer.from(s)));
}

test('no plaintext tokens in the database, its WAL, or the logs', async () => {
    const stats = await provider.stats();
    const tokens = [...stats.issued.access_tokens, ...stats.issued.refresh_tokens];
    assert.ok(
        tokens.length >= 4,
        `the flows above should have issued tokens (got ${tokens.length})`,
    );
    const dbFiles = ['tether.db', 'tether.db-wal'].map((f) => path.join(tether.dataDir, f));
    const pgUrl = tether.databaseUrl; // PostgreSQL: a dump of the data stands in for the files
    assert.ok(
        pgUrl || fs.existsSync(dbFiles[0]),
        `expected ${dbFiles[0]}; data dir has: ${fs.readdirSync(tether.dataDir).join(', ')}`,
    );
    const check = (where) => {
        if (pgUrl) {
            const dump = execFileSync('pg_dump', ['--data-only', pgUrl]);
            const hex = (x) => Buffer.from(x).toString('hex');
            const found = [...leaks(dump, tokens), ...leaks(dump, tokens.map(hex))];
            assert.equal(found.length, 0, `${where}: plaintext token(s) in the database`);
        }
        for (const f of dbFiles) {
            if (!fs.existsSync(f)) continue;
            const bytes = fs.readFileSync(f);
            const found = leaks(bytes, tokens);
            assert.equal(
                found.length,
                0,
                `${where}: ${found.length} plaintext token(s) in ${path.basename(f)}`,
            );
            assert.equal(
                leaks(bytes, ['tether-post-secret', 'tether-basic-secret']).length,
                0,
                `${where}: a client secret is stored in plaintext in ${path.basename(f)}`,
            );
        }
        const found = leaks(tether.logBytes(), tokens);
        assert.equal(
            found.length,
            0,
            `${where}: ${found.length} plaintext token(s) in tether's logs`,
        );
    };
    check('while running');
    await tether.stop({ keepData: true }); // SIGTERM: the WAL is checkpointed into the database
    try {
        check('after shutdown');
    } finally {
        removeDir(tether.dataDir);
    }
});

test('no "Transform validation failed" warnings from the SDK', () => {
    const bad = warn.transformFailures();
    assert.equal(bad.length, 0, `SDK validation warnings:\n${bad.join('\n')}`);
});
