#!/usr/bin/env bash
# slowloris.sh -- slow and stuck clients cannot starve the others: hundreds of connections that
# dribble header bytes, dribble a body, sit idle, or never read their answers, while a normal client
# keeps getting fast answers; oversized headers are refused (4xx or closed) and the server is fine.
cd "$(dirname "$0")/../.." && source tests/integration/lib.sh
TETHER_RATE_API=0 TETHER_RATE_PAGES=0 start_tether || exit 1

cat >"$T_TMP/slow.mjs" <<'EOF'
// Prints "ok NAME" or "FAIL NAME: why" lines; lib.sh counts them.
import net from 'node:net';
const [base, key] = process.argv.slice(2);
const { hostname: host, port } = new URL(base);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (good, name, why = '') => console.log(good ? `ok   ${name}` : `FAIL ${name}: ${why}`);
const held = [];

function open(first) {
    const s = net.connect(Number(port), host);
    s.on('error', () => {});
    s.closedAt = 0;
    s.on('close', () => { s.closedAt = Date.now(); });
    if (first) s.write(first);
    held.push(s);
    return s;
}

// A normal client: sequential requests on one keep-alive connection (fetch); latencies in ms.
async function normal(n) {
    const lat = [];
    for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        let r;
        if (i % 3 === 0) r = await fetch(`${base}/healthz`);
        else if (i % 3 === 1) r = await fetch(`${base}/api/v3.1/toolkits?limit=2`, { headers: { 'x-api-key': key } });
        else r = await fetch(`${base}/api/v3.1/tool_router/session`, {
            method: 'POST',
            headers: { 'x-api-key': key, 'content-type': 'application/json' },
            body: JSON.stringify({ user_id: `slow_${i}` }),
        });
        await r.arrayBuffer();
        if (r.status >= 300) throw new Error(`normal request ${i}: ${r.status}`);
        lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    return { median: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)], max: lat[lat.length - 1] };
}

// One raw request on a fresh connection: {status} or {closed} within ms.
function rawOnce(bytes, ms = 5000) {
    return new Promise((resolve) => {
        const s = net.connect(Number(port), host, () => s.end(bytes));
        let got = '';
        const t = setTimeout(() => { s.destroy(); resolve({ hung: true }); }, ms);
        s.on('data', (b) => { got += b.toString('latin1'); });
        s.on('error', () => {});
        s.on('close', () => {
            clearTimeout(t);
            const m = got.match(/^HTTP\/1\.[01] (\d{3})/);
            resolve(m ? { status: Number(m[1]) } : { closed: true });
        });
    });
}

const base0 = await normal(150);
console.log(`# baseline: median ${base0.median.toFixed(2)} ms, p99 ${base0.p99.toFixed(2)} ms`);

// 300 header dribblers: a request line, then one more header line every 500 ms, never the end
const dribblers = [];
for (let i = 0; i < 300; i++) dribblers.push(open(`GET /healthz HTTP/1.1\r\nHost: x\r\nx-api-key: ${key}\r\n`));
// 150 body dribblers: full headers promising 60 KB, then 16 bytes every 500 ms
const bodies = [];
for (let i = 0; i < 150; i++)
    bodies.push(open(`POST /api/v3.1/tool_router/session HTTP/1.1\r\nHost: x\r\nx-api-key: ${key}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"user_id":"'));
// 150 idle connections that never send a byte
for (let i = 0; i < 150; i++) open();
// 40 clients that pipeline requests for a large answer and never read
const fat = `GET /api/v3.1/tools?limit=1000 HTTP/1.1\r\nHost: x\r\nx-api-key: ${key}\r\n\r\n`;
for (let i = 0; i < 40; i++) open(fat.repeat(10)).pause();
// requests that exhaust the 16 KiB connection pool with query arguments (see badinput.test.mjs)
const args = Array.from({ length: 400 }, (_, i) => `a${i}=1`).join('&');
for (let i = 0; i < 20; i++) open(`GET /healthz?${args} HTTP/1.1\r\nHost: x\r\n\r\n`);

let ticks = 0;
const timer = setInterval(() => {
    ticks++;
    for (const s of dribblers) if (!s.closedAt) s.write(`x-slow-${ticks}: ${'y'.repeat(8)}\r\n`);
    for (const s of bodies) if (!s.closedAt) s.write('abcdefghijklmnop');
}, 500);
await sleep(1500);

const during = await normal(300);
console.log(`# with ${held.length} slow connections: median ${during.median.toFixed(2)} ms, ` +
    `p99 ${during.p99.toFixed(2)} ms, max ${during.max.toFixed(2)} ms`);
say(during.max < 2000, 'no normal request waits behind the slow clients', `max ${during.max.toFixed(0)} ms`);
say(during.median < base0.median * 4 + 10, 'normal requests stay fast',
    `median ${during.median.toFixed(2)} vs ${base0.median.toFixed(2)} ms`);

// 20 normal clients at once, each on its own connection
const t0 = performance.now();
const par = await Promise.all(Array.from({ length: 20 }, () => normal(10).then(() => true, (e) => e.message)));
say(par.every((x) => x === true), 'parallel normal clients are answered', par.find((x) => x !== true));
say(performance.now() - t0 < 10000, 'parallel clients finish in time', `${(performance.now() - t0).toFixed(0)} ms`);

// oversized headers: refused with a 4xx or the connection closed, promptly
const big = await rawOnce(`GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: ${'b'.repeat(20000)}\r\n\r\n`);
say(big.closed || (big.status >= 400 && big.status < 500), 'a 20 KB header is refused', JSON.stringify(big));
const many = await rawOnce(`GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 400 }, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`);
say(many.closed || (many.status >= 400 && many.status < 500), '400 small headers are refused', JSON.stringify(many));
const longUrl = await rawOnce(`GET /healthz?q=${'u'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
say(longUrl.closed || (longUrl.status >= 400 && longUrl.status < 500), 'a 20 KB URL is refused', JSON.stringify(longUrl));

const alive = dribblers.filter((s) => !s.closedAt).length;
console.log(`# header dribblers still connected: ${alive} of ${dribblers.length}`);
clearInterval(timer);
for (const s of held) s.destroy();
await sleep(500);

const afterwards = await normal(150);
console.log(`# afterwards: median ${afterwards.median.toFixed(2)} ms`);
say(afterwards.median < base0.median * 3 + 5, 'as fast as before once they are gone',
    `median ${afterwards.median.toFixed(2)} vs ${base0.median.toFixed(2)} ms`);
EOF

out=$(timeout 90 node "$T_TMP/slow.mjs" "$URL" "$KEY" 2>&1); rc=$?
echo "$out" | grep '^#'
while IFS= read -r line; do
  case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "FAIL "*) T_FAILED=$((T_FAILED + 1)); echo "$line" ;;
  esac
done <<<"$out"
check "the slow-client driver ran to the end" [ "$rc" = 0 ]
[ "$rc" = 0 ] || echo "$out" | tail -20
check "the server is still running" kill -0 "$TETHER_PID"
check "health answers afterwards" curl -fsS -m 5 -o /dev/null "$URL/healthz"
api GET /api/v3.1/toolkits; expect_status "the API answers afterwards" 200
finish
