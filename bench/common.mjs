// Helpers shared by the bench clients (wake.mjs, flows.mjs, waiters.mjs, startup.mjs).
//
// The clients talk only to 127.0.0.1. bench/run.sh starts tether and the provider and passes
// them in through the environment:
//   TETHER_URL      http://127.0.0.1:PORT of the server under test
//   TETHER_API_KEY  its API key
//   TETHER_PID      its pid, for CPU (/proc/PID/stat) and RSS (/proc/PID/status) readings
// Each client ends by printing one table row on stdout:
//   ROW|scenario|req/s|p50|p99|cpu|rss|target|met
import fs from 'node:fs';
import { api } from '../tests/node/lib/harness.mjs';

/** The app's own callback URL; tether redirects the user there after the provider. */
export const APP = 'https://app.example/callback';

/** {url, apiKey, pid} of the server under test, from the environment. */
export function target() {
    const url = process.env.TETHER_URL;
    const apiKey = process.env.TETHER_API_KEY;
    const pid = Number(process.env.TETHER_PID || 0);
    if (!url || !apiKey) throw new Error('TETHER_URL and TETHER_API_KEY must be set');
    return { url, apiKey, pid };
}

/** The value of a positive integer environment variable, or def. */
export function envInt(name, def) {
    const v = Number(process.env[name]);
    return Number.isInteger(v) && v > 0 ? v : def;
}

/** CPU seconds (user + system) the process has used so far; 0 when it cannot be read. */
export function cpuSeconds(pid) {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // fields 14 and 15 of stat(5); f[0] is field 3
        return (Number(f[11]) + Number(f[12])) / envInt('CLK_TCK', 100);
    } catch {
        return 0;
    }
}

/** Resident set size in MB; NaN when it cannot be read. */
export function rssMb(pid) {
    try {
        const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
        return m ? Number(m[1]) / 1024 : NaN;
    } catch {
        return NaN;
    }
}

/** The q-quantile (0..1) of an array of numbers, nearest rank. */
export function quantile(xs, q) {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** Calls the API and throws unless the status is one of ok; returns the parsed body. */
export async function must(t, method, p, body, ok = [200, 201]) {
    const r = await api(t, method, p, body);
    if (!ok.includes(r.status)) {
        throw new Error(`${method} ${p}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    }
    return r.json;
}

/** A session for user and a custom OAuth2 auth config for slug; returns the session id. */
export async function sessionWithAuth(t, user, slug, clientId = 'tether-post') {
    await must(t, 'POST', '/api/v3.1/auth_configs', {
        toolkit: { slug },
        auth_config: {
            type: 'use_custom_auth',
            authScheme: 'OAUTH2',
            credentials: { client_id: clientId, client_secret: `${clientId}-secret` },
        },
    });
    const s = await must(t, 'POST', '/api/v3.1/tool_router/session', { user_id: user });
    return s.session_id;
}

/** A new Connect Link in the session; returns {connected_account_id, redirect_url, ...}. */
export function newLink(t, sid, toolkit) {
    return must(t, 'POST', `/api/v3.1/tool_router/session/${sid}/link`, {
        toolkit,
        callback_url: APP,
    });
}

/** Formats a number for the table: fixed decimals, or "-" when not a finite number. */
export function fmt(x, digits = 1) {
    return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

/** Prints the table row that run.sh collects. */
export function row(fields) {
    console.log(`ROW|${fields.join('|')}`);
}

/** Remembers a child (pid, and the program its command line shows) in $BENCH_PIDS, so run.sh
 * can stop it even if this script dies first. */
export function trackPid(pid, program) {
    if (process.env.BENCH_PIDS) fs.appendFileSync(process.env.BENCH_PIDS, `${pid} ${program}\n`);
}
