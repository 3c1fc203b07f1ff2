// Reconnect in place through a session: a new link for an existing account keeps its ca_ id, its
// alias and the session's pin on it; another user's account cannot be reconnected.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, fillKeyForm, startStack } from './lib/harness.mjs';

let stack;
before(async () => {
    stack = await startStack({});
});
after(async () => {
    await stack?.stop();
});

async function connectKey(tether, sid, body, key) {
    const l = await api(tether, 'POST', `/api/v3.1/tool_router/session/${sid}/link`, body);
    assert.equal(l.status, 201, l.text);
    await fillKeyForm(l.json.redirect_url, { api_key: key });
    const a = await api(tether, 'GET', `/api/v3.1/connected_accounts/${l.json.connected_account_id}`);
    assert.equal(a.json.status, 'ACTIVE', a.text);
    return l.json.connected_account_id;
}

test('a session link with connected_account_id reconnects the account in place', async () => {
    const { tether } = stack;
    const s = await api(tether, 'POST', '/api/v3.1/tool_router/session', { user_id: 'user_re' });
    const id = await connectKey(tether, s.json.session_id, { toolkit: 'openweathermap', alias: 'work' }, 'good-1');
    const pinned = await api(tether, 'POST', '/api/v3.1/tool_router/session', {
        user_id: 'user_re',
        connected_accounts: { openweathermap: id },
    });
    assert.equal(pinned.status, 201, pinned.text);
    const psid = pinned.json.session_id;
    const plain = await api(tether, 'POST', `/api/v3.1/tool_router/session/${psid}/link`, { toolkit: 'openweathermap' });
    assert.equal(plain.status, 400, 'a pinned session refuses a new account');
    const again = await api(tether, 'POST', `/api/v3.1/tool_router/session/${psid}/link`, {
        toolkit: 'openweathermap',
        connected_account_id: id,
    });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.json.connected_account_id, id, 'same account id');
    const pending = await api(tether, 'GET', `/api/v3.1/connected_accounts/${id}`);
    assert.equal(pending.json.status, 'INITIATED');
    await fillKeyForm(again.json.redirect_url, { api_key: 'good-2' });
    const done = await api(tether, 'GET', `/api/v3.1/connected_accounts/${id}`);
    assert.equal(done.json.status, 'ACTIVE', done.text);
    assert.equal(done.json.alias, 'work', 'alias kept');
    const tk = await api(tether, 'GET', `/api/v3.1/tool_router/session/${psid}/toolkits?toolkits=openweathermap`);
    assert.equal(tk.json.items[0].connected_account.id, id, 'the pin still points at it');

    const other = await api(tether, 'POST', '/api/v3.1/tool_router/session', { user_id: 'someone_else' });
    const stolen = await api(tether, 'POST', `/api/v3.1/tool_router/session/${other.json.session_id}/link`, {
        toolkit: 'openweathermap',
        connected_account_id: id,
    });
    assert.equal(stolen.status, 400, "another user's account is refused");
    const bad = await api(tether, 'POST', `/api/v3.1/tool_router/session/${psid}/link`, {
        toolkit: 'openweathermap',
        connected_account_id: 42,
    });
    assert.equal(bad.status, 400, 'a non-string id is refused');
});
