// Webhooks: endpoints with event filters, Standard Webhooks signatures checked by a local receiver,
// the durable outbox (receiver down, then up: every event delivered once, in order per account),
// the delivery log, replay, and secret rotation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, completeConnectLink, sleep, startStack, waitAccount } from './lib/harness.mjs';
import { startReceiver } from './lib/webhook_receiver.mjs';

let stack;
let t;
let ac;
let receiver;
const secrets = [];

before(async () => {
    stack = await startStack({ env: { TETHER_WEBHOOK_RETRY_MS: '300' } });
    t = stack.tether;
    const r = await api(t, 'POST', '/api/v3.1/auth_configs', {
        toolkit: { slug: 'gmail' },
        auth_config: {
            type: 'use_custom_auth',
            authScheme: 'OAUTH2',
            credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
        },
    });
    ac = r.json.auth_config.id;
    receiver = await startReceiver({ secrets: () => secrets });
});

after(async () => {
    await receiver?.stop();
    await stack?.stop();
});

async function until(what, pred, ms = 20000) {
    const deadline = Date.now() + ms;
    while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(50);
    }
}

async function connect(user) {
    const r = await api(t, 'POST', '/api/v3.1/connected_accounts/link', {
        auth_config_id: ac,
        user_id: user,
    });
    assert.equal(r.status, 201, r.text);
    await completeConnectLink(r.json.redirect_url, { login: user });
    await waitAccount(t, r.json.connected_account_id, (a) => a.status === 'ACTIVE');
    return r.json.connected_account_id;
}

const toggle = (id, enabled) =>
    api(t, 'PATCH', `/api/v3.1/connected_accounts/${id}/status`, { enabled });

test('endpoint CRUD and validation', { timeout: 10000 }, async () => {
    let r = await api(t, 'POST', '/api/v3.1/webhooks', { url: 'ftp://nope' });
    assert.equal(r.status, 400);
    r = await api(t, 'POST', '/api/v3.1/webhooks', { url: receiver.url, events: ['nope'] });
    assert.equal(r.status, 400);
    r = await api(t, 'POST', '/api/v3.1/webhooks', { url: receiver.url, events: [], disabled: true });
    assert.equal(r.status, 201, r.text);
    assert.match(r.json.secret, /^whsec_/);
    const id = r.json.id;
    r = await api(t, 'PATCH', `/api/v3.1/webhooks/${id}`, { events: ['account.deleted'] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.events, ['account.deleted']);
    r = await api(t, 'GET', '/api/v3.1/webhooks');
    assert.ok(r.json.items.some((w) => w.id === id && w.disabled === true));
    assert.ok(!('secret' in r.json.items[0]), 'secrets are not listed');
    r = await api(t, 'DELETE', `/api/v3.1/webhooks/${id}`);
    assert.equal(r.status, 200);
    r = await api(t, 'GET', `/api/v3.1/webhooks/${id}`);
    assert.equal(r.status, 404);
});

test('receiver down, then up: each event delivered once, in order per account', { timeout: 60000 }, async () => {
    const w = await api(t, 'POST', '/api/v3.1/webhooks', {
        url: receiver.url,
        events: ['account.active', 'account.disabled', 'account.enabled', 'account.deleted'],
    });
    assert.equal(w.status, 201, w.text);
    secrets.push(w.json.secret);
    const a = await connect('hook_a');
    const b = await connect('hook_b');
    await until('active events', () => receiver.received.filter((x) => x.valid).length >= 2);
    await receiver.down();
    for (const id of [a, b]) {
        await toggle(id, false);
        await toggle(id, true);
        await toggle(id, false);
    }
    await sleep(1500); // several failed attempts while the receiver is down
    let log = await api(t, 'GET', `/api/v3.1/webhooks/${w.json.id}/deliveries?limit=100`);
    assert.equal(log.status, 200, log.text);
    assert.ok(
        log.json.items.some((d) => d.state === 'pending' && d.attempts >= 1 && d.last_error),
        'failed attempts are in the log',
    );
    await receiver.up();
    await api(t, 'DELETE', `/api/v3.1/connected_accounts/${b}`);
    const want = ['account.active', 'account.disabled', 'account.enabled', 'account.disabled'];
    const seq = (id) => receiver.received.filter((x) => x.valid && x.accountId === id);
    await until('every event', () => seq(a).length >= 4 && seq(b).length >= 5, 30000);
    await sleep(1000); // nothing more arrives
    assert.deepEqual(seq(a).map((x) => x.type), want);
    assert.deepEqual(seq(b).map((x) => x.type), [...want, 'account.deleted']);
    const ids = receiver.received.filter((x) => x.valid).map((x) => x.id);
    assert.equal(new Set(ids).size, ids.length, 'no event delivered twice');
    assert.ok(receiver.received.every((x) => x.valid), 'every signature verifies');
    log = await api(t, 'GET', `/api/v3.1/webhooks/${w.json.id}/deliveries?limit=100`);
    assert.ok(log.json.items.every((d) => d.state === 'delivered'), JSON.stringify(log.json));
    assert.ok(log.json.items.some((d) => d.attempts > 1), 'some were delivered after a retry');

    // replay: the same message (same webhook-id) once more
    const first = log.json.items.at(-1);
    const n0 = receiver.received.length;
    const rp = await api(
        t,
        'POST',
        `/api/v3.1/webhooks/${w.json.id}/deliveries/${first.id}/replay`,
        {},
    );
    assert.equal(rp.status, 202, rp.text);
    await until('replay', () => receiver.received.length > n0);
    assert.equal(receiver.received.at(-1).id, first.message_id);
    await api(t, 'DELETE', `/api/v3.1/webhooks/${w.json.id}`);
});

test('a rotated secret signs next to the old one', { timeout: 30000 }, async () => {
    const w = await api(t, 'POST', '/api/v3.1/webhooks', {
        url: receiver.url,
        events: ['account.disabled'],
    });
    const old = w.json.secret;
    const r = await api(t, 'POST', `/api/v3.1/webhooks/${w.json.id}/rotate_secret`, {});
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.json.secret, old);
    secrets.length = 0;
    secrets.push(r.json.secret); // only the new secret is accepted now
    const id = await connect('hook_rot');
    const n0 = receiver.received.length;
    await toggle(id, false);
    await until('signed with the new secret', () => receiver.received.length > n0);
    const got = receiver.received.at(-1);
    assert.equal(got.valid, true);
    const sigs = got.raw && receiver.received.at(-1);
    assert.ok(sigs);
});
