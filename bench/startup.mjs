// Scenario 8, start-up and idle memory: the time from exec of `tether serve` to the first 200 from
// GET /healthz, polled every millisecond over fresh connections. The first start uses an empty
// data dir (creates the database and the master key); the next STARTUP_RUNS reuse it, as an
// operator's restart would. Idle RSS is read one second after the first start has answered.
// The server is pinned to core 0 with taskset; its pid is appended to $BENCH_PIDS.
// Env: TETHER_BIN, DATA_DIR (an empty directory, removed by run.sh), STARTUP_RUNS (5).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { freePort, sleep } from '../tests/node/lib/harness.mjs';
import { cpuSeconds, envInt, fmt, quantile, row, rssMb, trackPid } from './common.mjs';

const bin = process.env.TETHER_BIN;
const dataDir = process.env.DATA_DIR;
const runs = envInt('STARTUP_RUNS', 5);
if (!bin || !dataDir) throw new Error('TETHER_BIN and DATA_DIR must be set');

function healthy(port) {
    return new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200));
        });
        req.on('error', () => resolve(false));
        req.setTimeout(1000, () => req.destroy());
    });
}

// Starts the server, waits for /healthz; returns {ms, cpuMs, rss}: wall time to ready, the
// server's CPU time (user + system) to ready, and the idle RSS when measureIdle. Stops it.
async function once(measureIdle) {
    const port = await freePort();
    const env = { ...process.env, TETHER_API_KEY: 'tk_live_bench_startup' };
    const args = ['-c', '0', bin, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
        '--allow-http'];
    const t0 = performance.now();
    const child = spawn('taskset', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    trackPid(child.pid, bin);
    const reap = () => child.kill('SIGKILL');
    process.on('exit', reap);
    let log = '';
    child.stderr.on('data', (b) => {
        if (log.length < 8192) log += b;
    });
    const exited = new Promise((r) => child.on('exit', r));
    try {
        for (;;) {
            if (child.exitCode !== null) throw new Error(`tether exited early:\n${log}`);
            if (await healthy(port)) break;
            if (performance.now() - t0 > 10000) throw new Error(`no /healthz in 10 s:\n${log}`);
            await sleep(1);
        }
        const ms = performance.now() - t0;
        const cpuMs = cpuSeconds(child.pid) * 1000;
        let rss = NaN;
        if (measureIdle) {
            await sleep(1000);
            rss = rssMb(child.pid);
        }
        return { ms, cpuMs, rss };
    } finally {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
        process.off('exit', reap);
    }
}

const first = await once(true);
const restarts = [];
const restartCpu = [];
for (let i = 0; i < runs; i++) {
    const r = await once(false);
    restarts.push(r.ms);
    restartCpu.push(r.cpuMs);
}
const p50 = quantile(restarts, 0.5);
console.log(
    `startup: first start (empty data dir) ${fmt(first.ms)} ms (${fmt(first.cpuMs)} ms CPU); ` +
        `restarts ${restarts.map((x) => fmt(x)).join(', ')} ms ` +
        `(${restartCpu.map((x) => fmt(x)).join(', ')} ms CPU); idle RSS ${fmt(first.rss)} MB`,
);
row([
    '8. start-up to /healthz; idle RSS',
    '-',
    `${fmt(p50)} ms (restart)`,
    `${fmt(Math.max(...restarts))} ms (first ${fmt(first.ms)})`,
    `${fmt(quantile(restartCpu, 0.5))} ms CPU to ready`,
    `${fmt(first.rss)} MB idle`,
    '< 100 ms; idle RSS < 20 MB',
    Math.max(first.ms, ...restarts) < 100 && first.rss < 20 ? 'yes' : 'no',
]);
