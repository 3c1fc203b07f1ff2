// A local webhook receiver for tests: verifies Standard Webhooks signatures (webhook-id,
// webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>" with the
// base64 key after "whsec_"), records every delivery, and can be taken down and brought back up
// on the same port.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

export function verifySignature(secret, headers, body) {
    const id = headers['webhook-id'];
    const ts = headers['webhook-timestamp'];
    const sigs = String(headers['webhook-signature'] ?? '').split(' ');
    if (!id || !ts || !secret) return false;
    if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const want = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
    return sigs.some((s) => {
        const [v, b64] = s.split(',');
        const got = Buffer.from(b64 ?? '', 'base64');
        return v === 'v1' && got.length === want.length && timingSafeEqual(got, want);
    });
}

/**
 * Starts a receiver on port (0: a free one). secrets(): the secrets accepted (any may match).
 * Returns {url, port, received: [{id, type, accountId, body, valid}], up(), down(), stop()}.
 * status(): the HTTP status to answer (default 200).
 */
export async function startReceiver({ port = 0, secrets = () => [], status = () => 200 } = {}) {
    const received = [];
    let server = null;
    let bound = port;
    const sockets = new Set();
    const handler = (req, res) => {
        let raw = '';
        req.setEncoding('utf8');
        req.on('data', (c) => {
            raw += c;
        });
        req.on('end', () => {
            let body = null;
            try {
                body = JSON.parse(raw);
            } catch {
                /* recorded as invalid */
            }
            const valid = secrets().some((s) => verifySignature(s, req.headers, raw));
            received.push({
                id: req.headers['webhook-id'],
                type: body?.type,
                accountId: body?.data?.id,
                body,
                raw,
                valid,
                at: Date.now(),
            });
            res.writeHead(valid ? status() : 400, { 'content-type': 'text/plain' });
            res.end(valid ? 'ok' : 'bad signature');
        });
    };
    const up = () =>
        new Promise((resolve, reject) => {
            server = http.createServer(handler);
            server.on('connection', (s) => {
                sockets.add(s);
                s.on('close', () => sockets.delete(s));
            });
            server.once('error', reject);
            server.listen(bound, '127.0.0.1', () => {
                bound = server.address().port;
                resolve();
            });
        });
    const down = () =>
        new Promise((resolve) => {
            if (!server) return resolve();
            for (const s of sockets) s.destroy();
            server.close(() => resolve());
            server = null;
        });
    await up();
    return {
        get url() {
            return `http://127.0.0.1:${bound}/hook`;
        },
        get port() {
            return bound;
        },
        received,
        up,
        down,
        stop: down,
    };
}
