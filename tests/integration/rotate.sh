#!/usr/bin/env bash
# rotate.sh -- vault key rotation under load: accounts are connected against the local OAuth2
# provider (short access tokens, so refreshes keep re-sealing credentials during the rotation),
# `tether vault rotate` runs while proxy calls and forced refreshes hammer the server, every
# account still decrypts afterwards, and a restart with the old key removed from master.key
# still opens every value. Prints "N passed, N failed".
cd "$(dirname "$0")/../.." || exit 1
BIN=${TETHER_BIN:-$PWD/${BUILD:-build}/tether}
if [ ! -d tests/node/node_modules ]; then echo "skip: tests/node has no node_modules"; echo "0 passed, 0 failed"; exit 0; fi
exec timeout 240 env TETHER_BIN="$BIN" node --input-type=module - <<'JS'
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { api, completeConnectLink, freePort, sleep, startStack, waitAccount }
    from './tests/node/lib/harness.mjs';

let passed = 0, failed = 0;
const check = (name, cond, extra = '') => {
    if (cond) { passed++; console.log(`ok   ${name}`); }
    else { failed++; console.log(`FAIL ${name}${extra ? `: ${extra}` : ''}`); }
};
const BIN = process.env.TETHER_BIN;
const stack = await startStack({ atTtl: 3 });
let t = stack.tether;
let restarted = null;
try {
    const r0 = await api(t, 'POST', '/api/v3.1/auth_configs', { toolkit: { slug: 'gmail' },
        auth_config: { type: 'use_custom_auth', authScheme: 'OAUTH2',
            credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' } } });
    const ac = r0.json.auth_config.id;
    const ids = [];
    for (let i = 0; i < 4; i++) {
        const r = await api(t, 'POST', '/api/v3.1/connected_accounts/link',
                            { auth_config_id: ac, user_id: `rot_${i}` });
        await completeConnectLink(r.json.redirect_url, { login: `rot_${i}` });
        await waitAccount(t, r.json.connected_account_id, (a) => a.status === 'ACTIVE');
        ids.push(r.json.connected_account_id);
    }
    const pending = await api(t, 'POST', '/api/v3.1/connected_accounts/link',
                              { auth_config_id: ac, user_id: 'rot_pending' });
    const hook = await api(t, 'POST', '/api/v3.1/webhooks', { url: 'http://127.0.0.1:9/none' });
    check('setup: accounts, a pending link and a webhook', ids.length === 4 && hook.status === 201);
    const keyFile = path.join(t.dataDir, 'master.key');
    const before = fs.readFileSync(keyFile, 'utf8');

    // load: forced refreshes and proxy calls while the key rotates
    let stop = false, errors = 0, calls = 0;
    const load = (async () => {
        while (!stop) {
            const rs = await Promise.all(ids.map((id, i) => i % 2
                ? api(t, 'POST', `/api/v3.1/connected_accounts/${id}/refresh`, {})
                : api(t, 'POST', '/api/v3.1/tools/execute/proxy',
                      { connected_account_id: id, endpoint: '/me', method: 'GET' })));
            calls += rs.length;
            errors += rs.filter((r) => r.status >= 500 && r.status !== 502).length;
            await sleep(50);
        }
    })();
    await sleep(500);
    let out = '';
    try {
        out = execFileSync(BIN, ['vault', 'rotate', '--data-dir', t.dataDir],
                           { encoding: 'utf8', timeout: 120000 });
        check('tether vault rotate succeeds', true);
    } catch (e) {
        check('tether vault rotate succeeds', false, `${e.stdout}${e.stderr}`);
    }
    await sleep(1500);
    stop = true;
    await load;
    check(`no server errors during the rotation (${calls} calls)`, errors === 0, `${errors} errors`);
    check('the rotation re-sealed values', /re-sealed [1-9][0-9]* values/.test(out), out);
    for (const id of ids) {
        const r = await api(t, 'POST', `/api/v3.1/connected_accounts/${id}/refresh`, {});
        check(`account ${id} still decrypts and refreshes`, r.status === 200 &&
              r.json.status === 'ACTIVE', r.text);
    }
    const after = fs.readFileSync(keyFile, 'utf8');
    const keyLines = (s) => s.split('\n').filter((l) => /^\d+ [0-9a-f]{64}$/.test(l));
    check('a new sealing key was added', keyLines(after).length === keyLines(before).length + 1);

    // the old key is no longer needed: drop it and restart on the same data dir
    await t.stop({ keepData: true });
    const newest = keyLines(after).at(-1);
    const pruned = after.split('\n').filter((l) => !keyLines(after).includes(l) || l === newest);
    fs.writeFileSync(keyFile, pruned.join('\n'), { mode: 0o600 });
    const port = await freePort();
    const proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', t.dataDir,
                             '--catalog-dir', stack.catalogDir, '--allow-http'],
                       { env: { ...process.env, TETHER_API_KEY: t.apiKey,
                                TETHER_REFRESH_BACKGROUND: '0' }, stdio: 'ignore' });
    restarted = proc;
    const t2 = { url: `http://127.0.0.1:${port}`, apiKey: t.apiKey };
    for (let i = 0; i < 100; i++) {
        try { if ((await fetch(`${t2.url}/healthz`)).status === 200) break; } catch { /* not yet */ }
        await sleep(100);
    }
    for (const id of ids) {
        const r = await api(t2, 'POST', `/api/v3.1/connected_accounts/${id}/refresh`, {});
        check(`without the old key, ${id} decrypts`, r.status === 200 && r.json.status === 'ACTIVE',
              r.text);
    }
    const page = await fetch(pending.json.redirect_url.replace(/^http:\/\/[^/]+/, t2.url));
    check('a pending link still opens', page.status === 200, String(page.status));
} finally {
    if (restarted) { restarted.kill('SIGTERM'); await sleep(300); }
    await stack.stop();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
JS
