// Scenario 6, many parked waiters: WAITER_ACCOUNTS INITIATED accounts, WAITERS_PER_ACCOUNT
// long-polls (wait_ms=60000) on each, every one on its own keep-alive socket. Records the
// server's RSS before and after parking, then lets the Connect Links expire (run.sh starts this
// server with a short --link-ttl) and measures, for every waiter, the time from its account's
// status change (the server's updated_at) to its answer.
// Env: TETHER_URL, TETHER_API_KEY, TETHER_PID, WAITER_ACCOUNTS (100), WAITERS_PER_ACCOUNT (100),
//      LINK_TTL (the server's --link-ttl in seconds, for the deadline).
import net from 'node:net';
import { sleep } from '../tests/node/lib/harness.mjs';
import {
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
const accounts = envInt('WAITER_ACCOUNTS', 100);
const perAccount = envInt('WAITERS_PER_ACCOUNT', 100);
const linkTtl = envInt('LINK_TTL', 10);
const total = accounts * perAccount;
const { hostname, port } = new URL(t.url);
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

// One long-poll on its own socket: {sent, answer}. sent resolves once the request is written;
// answer resolves with {at, status, body} or rejects on a socket error or early close.
function waiter(id) {
    let sentResolve;
    const sent = new Promise((r) => {
        sentResolve = r;
    });
    const answer = new Promise((resolve, reject) => {
        const sock = net.connect({ host: hostname, port: Number(port) });
        const chunks = [];
        let size = 0;
        sock.setNoDelay(true);
        sock.on('connect', () => {
            sock.write(
                `GET /api/v3.1/connected_accounts/${id}?wait_ms=60000 HTTP/1.1\r\n` +
                    `Host: ${hostname}:${port}\r\nx-api-key: ${t.apiKey}\r\n\r\n`,
            );
            sentResolve();
        });
        sock.on('data', (b) => {
            const at = now();
            chunks.push(b);
            size += b.length;
            const buf = Buffer.concat(chunks, size);
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            const head = buf.subarray(0, end).toString('latin1');
            const len = head.match(/\r\ncontent-length:\s*(\d+)/i);
            if (!len) {
                sock.destroy();
                reject(new Error(`no content-length in: ${head.slice(0, 200)}`));
                return;
            }
            if (buf.length < end + 4 + Number(len[1])) return;
            const status = Number(head.split(' ')[1]);
            let body = null;
            try {
                body = JSON.parse(buf.subarray(end + 4, end + 4 + Number(len[1])).toString());
            } catch {
                /* counted as a wrong answer */
            }
            sock.destroy();
            resolve({ at, status, body });
        });
        sock.on('error', (e) => {
            sentResolve();
            reject(e);
        });
        sock.on('close', () => {
            sentResolve();
            reject(new Error('socket closed before the answer'));
        });
    });
    answer.catch(() => {});
    return { sent, answer };
}

await sleep(300);
const rssBefore = rssMb(t.pid);

// Open the sockets in bounded batches so the listen backlog never overflows.
const answers = [];
const batch = 500;
for (let i = 0; i < total; i += batch) {
    const sent = [];
    for (let j = i; j < Math.min(total, i + batch); j++) {
        const w = waiter(ids[j % accounts]);
        answers.push(w.answer);
        sent.push(w.sent);
    }
    await Promise.race([Promise.all(sent), sleep(10000)]);
}
const sentAt = now();

let parked = 0;
const parkDeadline = now() + 20000;
while (now() < parkDeadline) {
    parked = await parkedCount();
    if (parked >= total) break;
    await sleep(50);
}
const parkedAt = now();
await sleep(200);
const rssAfter = rssMb(t.pid);
console.log(
    `waiters: ${accounts} accounts x ${perAccount} = ${total} long-polls sent in ` +
        `${fmt((sentAt - linksAt) / 1000, 2)} s; ${parked} parked after ` +
        `${fmt((parkedAt - linksAt) / 1000, 2)} s (links expire ${linkTtl} s after creation)`,
);
console.log(
    `waiters: server RSS ${fmt(rssBefore)} MB before, ${fmt(rssAfter)} MB with ${parked} parked ` +
        `(+${fmt(rssAfter - rssBefore)} MB, ${fmt(((rssAfter - rssBefore) * 1024) / total, 2)} KB each)`,
);

const settled = await Promise.race([
    Promise.allSettled(answers),
    sleep((linkTtl + 20) * 1000).then(() => null),
]);
if (settled === null) throw new Error('not every waiter answered within the link TTL + 20 s');
const failures = settled.filter((s) => s.status === 'rejected');
const got = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
const wrong = got.filter((a) => a.status !== 200 || a.body?.status !== 'EXPIRED');
const early = got.filter((a) => a.at < parkedAt).length;
const lags = got.filter((a) => a.body?.updated_at).map((a) => a.at - Date.parse(a.body.updated_at));
const changes = got.filter((a) => a.body?.updated_at).map((a) => Date.parse(a.body.updated_at));
const firstChange = Math.min(...changes);
const lastAnswer = Math.max(...got.map((a) => a.at));
const maxLag = Math.max(...lags);
console.log(
    `waiters: ${got.length} answered (${wrong.length} not 200 EXPIRED, ${failures.length} ` +
        `socket errors, ${early} before all were parked); status change -> answer ` +
        `p50 ${fmt(quantile(lags, 0.5))} ms, p99 ${fmt(quantile(lags, 0.99))} ms, ` +
        `max ${fmt(maxLag)} ms; first status change -> last answer ` +
        `${fmt(lastAnswer - firstChange)} ms`,
);
if (failures.length > 0) console.log(`waiters: first socket error: ${failures[0].reason}`);
if (wrong.length > 0) console.log(`waiters: first wrong answer: ${JSON.stringify(wrong[0])}`);

const added = rssAfter - rssBefore;
const ok =
    failures.length === 0 && wrong.length === 0 && early === 0 && parked >= total &&
    added < 100 && maxLag < 1000;
row([
    `6. ${total} parked long-polls, woken by expiry`,
    '-',
    `${fmt(quantile(lags, 0.5))} ms`,
    `${fmt(quantile(lags, 0.99))} ms (max ${fmt(maxLag)})`,
    '-',
    `${fmt(rssBefore)} -> ${fmt(rssAfter)} MB (+${fmt(added)})`,
    '< 100 MB added; all answered < 1 s after the change',
    ok ? 'yes' : 'no',
]);
if (!ok) process.exitCode = 1;
