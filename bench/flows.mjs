// Scenario 7, the full OAuth connection: create a Connect Link, open tether's page, Continue,
// sign in and consent at the provider, come back through tether's callback (code exchange,
// credentials sealed, account ACTIVE) to the app. FLOW_CONCURRENCY users do this over and over
// for FLOW_SECONDS. Reports completed connections per second, the per-connection latency and
// the server's CPU time per connection (user + system, from /proc).
// Needs the toolkit "gmail" pointed at the provider (run.sh writes the catalogue override).
// Env: TETHER_URL, TETHER_API_KEY, TETHER_PID, FLOW_CONCURRENCY (8), FLOW_SECONDS (8).
import { completeConnectLink } from '../tests/node/lib/harness.mjs';
import {
    APP,
    cpuSeconds,
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
const concurrency = envInt('FLOW_CONCURRENCY', 8);
const seconds = envInt('FLOW_SECONDS', 8);
const sid = await sessionWithAuth(t, 'bench_flows', 'gmail');

const times = [];
let failed = 0;
let firstError = null;

async function user(n) {
    const deadline = performance.now() + seconds * 1000;
    for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        try {
            const link = await newLink(t, sid, 'gmail');
            const r = await completeConnectLink(link.redirect_url, {
                login: `flow${n}_${i}`,
                stopAt: APP,
            });
            const ok = r.location && new URL(r.location).searchParams.get('status') === 'success';
            if (!ok) throw new Error(`flow ended without success:\n${r.steps.join('\n')}`);
            times.push(performance.now() - t0);
        } catch (e) {
            failed++;
            firstError ??= e;
        }
    }
}

const cpu0 = cpuSeconds(t.pid);
const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, (_, n) => user(n)));
const elapsed = (performance.now() - t0) / 1000;
const cpu = cpuSeconds(t.pid) - cpu0;

const done = times.length;
const rate = done / elapsed;
const cpuPer = done > 0 ? (cpu * 1000) / done : NaN;
console.log(
    `flows: ${done} connections in ${fmt(elapsed, 2)} s at concurrency ${concurrency} ` +
        `(${fmt(rate)} /s), ${failed} failed; server CPU ${fmt(cpu, 2)} s = ${fmt(cpuPer, 3)} ms ` +
        `per connection; latency p50 ${fmt(quantile(times, 0.5))} ms, ` +
        `p99 ${fmt(quantile(times, 0.99))} ms`,
);
if (firstError) console.log(`flows: first failure: ${firstError.message.slice(0, 2000)}`);
row([
    `7. full OAuth connection (c=${concurrency})`,
    `${fmt(rate)} conn/s`,
    `${fmt(quantile(times, 0.5))} ms`,
    `${fmt(quantile(times, 0.99))} ms`,
    `${fmt(cpuPer, 3)} ms/conn`,
    `${fmt(rssMb(t.pid))} MB`,
    'CPU < 1 ms per connection',
    failed === 0 && cpuPer < 1 ? 'yes' : 'no',
]);
if (failed > 0) process.exitCode = 1;
