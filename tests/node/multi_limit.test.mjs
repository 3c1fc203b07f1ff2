// A multi-account session caps how many ACTIVE accounts of one toolkit a user may connect
// (multi_account.max_accounts_per_toolkit): at the cap, authorize answers 400 with a fix.
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

test('max_accounts_per_toolkit is enforced for ACTIVE accounts', async () => {
    const { tether } = stack;
    const s = await api(tether, 'POST', '/api/v3.1/tool_router/session', {
        user_id: 'user_cap',
        multi_account: { enable: true, max_accounts_per_toolkit: 2 },
    });
    assert.equal(s.status, 201, s.text);
    const sid = s.json.session_id;
    for (let i = 0; i < 2; i++) {
        const l = await api(tether, 'POST', `/api/v3.1/tool_router/session/${sid}/link`, {
            toolkit: 'openweathermap',
            alias: `key${i}`,
        });
        assert.equal(l.status, 201, l.text);
        const done = await fillKeyForm(l.json.redirect_url, { api_key: `good-key-${i}` });
        assert.ok(done.status === 200 || done.location, `form submitted: ${done.status}`);
        const a = await api(tether, 'GET', `/api/v3.1/connected_accounts/${l.json.connected_account_id}`);
        assert.equal(a.json.status, 'ACTIVE', a.text);
    }
    const third = await api(tether, 'POST', `/api/v3.1/tool_router/session/${sid}/link`, {
        toolkit: 'openweathermap',
    });
    assert.equal(third.status, 400, third.text);
    assert.match(third.json.error.message, /already has 2 connected openweathermap accounts/);
    assert.match(third.json.error.suggested_fix, /max_accounts_per_toolkit/);
    const other = await api(tether, 'POST', '/api/v3.1/tool_router/session', { user_id: 'user_cap' });
    const plain = await api(tether, 'POST', `/api/v3.1/tool_router/session/${other.json.session_id}/link`, {
        toolkit: 'openweathermap',
    });
    assert.equal(plain.status, 201, 'a session without multi_account has no cap');
});
