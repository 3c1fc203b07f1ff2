// Scenario 5, wake latency: one long-poll waiter (wait_ms=30000) on an INITIATED account while
// the end user completes the Connect Link against the real provider. Measures the time from the
// callback response arriving (tether's redirect back to the app) to the long-poll's answer.
//
// The account leaves INITIATED before tether sends that redirect, so the long-poll may answer
// first: such a run counts as 0 ms (the app already knew) and is reported separately.
// Needs the toolkit "gmail" pointed at the provider (run.sh writes the catalogue override).
// Env: TETHER_URL, TETHER_API_KEY, TETHER_PID, WAKE_RUNS (default 200).
import { completeConnectLink } from '../tests/node/lib/harness.mjs';
import {
    APP,
    envInt,
    fmt,
    newLink,
    quantile,
    row,
    rssMb,
    sessionWithAuth,
    target,
} from './common.mjs';

const t = target();
const runs = envInt('WAKE_RUNS', 200);
const sid = await sessionWithAuth(t, 'bench_wake', 'gmail');

// One long-poll; resolves with the answer's arrival time and body.
function longPoll(id) {
    return fetch(`${t.url}/api/v3.1/connected_accounts/${id}?wait_ms=30000`, {
        headers: { 'x-api-key': t.apiKey },
        signal: AbortSignal.timeout(40000),
    }).then(async (res) => {
        const body = await res.json();
        return { at: performance.now(), status: res.status, body };
    });
}

const lags = [];
let first = 0;
const lagFromChange = [];
for (let i = 0; i < runs; i++) {
    const link = await newLink(t, sid, 'gmail');
    const waiter = longPoll(link.connected_account_id);
    const r = await completeConnectLink(link.redirect_url, { login: `wake${i}`, stopAt: APP });
    const callbackAt = performance.now();
    const callbackWall = Date.now();
    if (!r.location || new URL(r.location).searchParams.get('status') !== 'success') {
        throw new Error(`run ${i}: the flow did not succeed\n${r.steps.join('\n')}`);
    }
    const w = await waiter;
    if (w.status !== 200 || w.body.status !== 'ACTIVE') {
        throw new Error(`run ${i}: long-poll answered ${w.status} ${JSON.stringify(w.body)}`);
    }
    const lag = w.at - callbackAt;
    if (lag <= 0) first++;
    lags.push(Math.max(0, lag));
    // Coarse cross-check from the server's own timestamp (ms resolution).
    lagFromChange.push(callbackWall + lag - Date.parse(w.body.updated_at));
}

const p50 = quantile(lags, 0.5);
const p99 = quantile(lags, 0.99);
console.log(
    `wake: ${runs} runs; callback response -> long-poll answer p50 ${fmt(p50, 2)} ms, ` +
        `p99 ${fmt(p99, 2)} ms, max ${fmt(Math.max(...lags), 2)} ms; ` +
        `${first} of ${runs} long-polls answered before the callback response arrived`,
);
console.log(
    `wake: status change (updated_at, ms resolution) -> long-poll answer ` +
        `p50 ${fmt(quantile(lagFromChange, 0.5))} ms, p99 ${fmt(quantile(lagFromChange, 0.99))} ms`,
);
row([
    '5. wake: callback -> long-poll answer',
    '-',
    `${fmt(p50, 2)} ms`,
    `${fmt(p99, 2)} ms`,
    '-',
    `${fmt(rssMb(t.pid))} MB`,
    'p99 < 5 ms',
    p99 < 5 ? 'yes' : 'no',
]);
