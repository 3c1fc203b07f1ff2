// Scenario 6, many parked waiters: WAITER_ACCOUNTS INITIATED accounts, WAITERS_PER_ACCOUNT
// long-polls (wait_ms=60000) on each, every one on its own keep-alive socket. The sockets are
// driven by bench/waiters.c (one epoll thread, so the client is not what is measured). Records
// the server's RSS before and after parking, then lets the Connect Links expire (run.sh starts
// this server with a short --link-ttl) and measures, for every waiter, the time from its
// account's status change (the server's updated_at) to its answer.
// Env: TETHER_URL, TETHER_API_KEY, TETHER_PID, WAITERS_BIN (the built waiters.c),
//      WAITER_ACCOUNTS (100), WAITERS_PER_ACCOUNT (100), LINK_TTL (the server's --link-ttl, s).
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { sleep } from '../tests/node/lib/harness.mjs';
import {
    cpuSeconds,
    envInt,
    fmt,
    newLink,
    quantile,
    row,
    rssMb,
    sessionWithAuth,
    target,
    trackPid,
} from './common.mjs';

const t = target();
const accounts = envInt('WAITER_ACCOUNTS', 100);
const perAccount = envInt('WAITERS_PER_ACCOUNT', 100);
const linkTtl = envInt('LINK_TTL', 10);
const bin = process.env.WAITERS_BIN;
if (!bin) throw new Error('WAITERS_BIN must be set');
const total = accounts * perAccount;
const now = () => performance.timeOrigin + performance.now();

const sid = await sessionWithAuth(t, 'bench_waiters', 'github', 'cid');
const ids = [];
for (let i = 0; i < accounts; i++) ids.push((await newLink(t, sid, 'github')).connected_account_id);
const linksAt = now();

async function parkedCount() {
    const res = await fetch(`${t.url}/metrics`, { signal: AbortSignal.timeout(5000) });
    const m = (await res.text()).match(/^tether_parked_waiters (\d+)/m);
    return m ? Number(m[1]) : -1;
}

await sleep(300);
const rssBefore = rssMb(t.pid);
const cpuStart = cpuSeconds(t.pid);

const child = spawn(
    bin,
    [new URL(t.url).port, t.apiKey, String(perAccount), String(linkTtl + 30)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
);
trackPid(child.pid, bin);
process.on('exit', () => child.kill('SIGKILL'));
child.stdin.end(`${ids.join('\n')}\n`);
const lines = [];
let onSent;
const sentLine = new Promise((r) => {
    onSent = r;
});
readline.createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.startsWith('sent ')) onSent(Number(l.slice(5)));
    else lines.push(l);
});
const exited = new Promise((r) => child.on('exit', r));
exited.then(() => onSent(-1));

const sent = await sentLine;
const sentAt = now();
let parked = 0;
while (now() < sentAt + 20000) {
    parked = await parkedCount();
    if (parked >= total) break;
    await sleep(20);
}
const parkedAt = now();
await sleep(200);
const rssAfter = rssMb(t.pid);
const cpu0 = cpuSeconds(t.pid);
const parkCpuUs = ((cpu0 - cpuStart) * 1e6) / total;
console.log(
    `waiters: ${accounts} accounts x ${perAccount} = ${total} long-polls; ${sent} sent after ` +
        `${fmt((sentAt - linksAt) / 1000, 2)} s, ${parked} parked after ` +
        `${fmt((parkedAt - linksAt) / 1000, 2)} s (the links expire ${linkTtl} s after creation)`,
);
console.log(
    `waiters: server RSS ${fmt(rssBefore)} MB before, ${fmt(rssAfter)} MB with ${parked} parked ` +
        `(+${fmt(rssAfter - rssBefore)} MB, ` +
        `${fmt(((rssAfter - rssBefore) * 1024) / total, 2)} KB each); ` +
        `server CPU to park ${fmt(parkCpuUs)} us per waiter`,
);

await exited;
const cpu = cpuSeconds(t.pid) - cpu0;
const wakeCpuUs = (cpu * 1e6) / total;
const answers = [];
const errors = [];
for (const l of lines) {
    const f = l.split(' ');
    if (f[0] === 'answer') {
        answers.push({ at: Number(f[1]), code: Number(f[2]), status: f[3], updated: f[4] });
    } else if (f[0] === 'error' || f[0] === 'timeout') {
        errors.push(l);
    }
}
const wrong = answers.filter((a) => a.code !== 200 || a.status !== 'EXPIRED');
const early = answers.filter((a) => a.at < parkedAt).length;
const lags = answers.filter((a) => a.updated !== '-').map((a) => a.at - Date.parse(a.updated));
const firstChange = Math.min(...answers.map((a) => Date.parse(a.updated)));
const lastAnswer = Math.max(...answers.map((a) => a.at));
const maxLag = Math.max(...lags);
console.log(
    `waiters: ${answers.length} answered (${wrong.length} not 200 EXPIRED, ${errors.length} ` +
        `errors, ${early} before all were parked); status change -> answer ` +
        `p50 ${fmt(quantile(lags, 0.5))} ms, p99 ${fmt(quantile(lags, 0.99))} ms, ` +
        `max ${fmt(maxLag)} ms; first status change -> last answer ` +
        `${fmt(lastAnswer - firstChange)} ms; server CPU from parked to all answered ` +
        `${fmt(cpu, 2)} s (${fmt(wakeCpuUs)} us per waiter)`,
);
if (errors.length > 0) console.log(`waiters: first error: ${errors[0]}`);
if (wrong.length > 0) console.log(`waiters: first wrong answer: ${JSON.stringify(wrong[0])}`);

const added = rssAfter - rssBefore;
const complete = errors.length === 0 && wrong.length === 0 && early === 0 && parked >= total;
row([
    `6. ${total} parked long-polls, woken by expiry`,
    '-',
    `${fmt(quantile(lags, 0.5))} ms`,
    `${fmt(quantile(lags, 0.99))} ms (max ${fmt(maxLag)})`,
    `park ${fmt(parkCpuUs)} us, wake ${fmt(wakeCpuUs)} us`,
    `${fmt(rssBefore)} -> ${fmt(rssAfter)} MB (+${fmt(added)})`,
    '< 100 MB added; all answered < 1 s after the change',
    complete && added < 100 && maxLag < 1000 ? 'yes' : 'no',
]);
if (!complete) process.exitCode = 1;
