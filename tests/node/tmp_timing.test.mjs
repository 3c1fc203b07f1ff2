// tether's Connect Link pages in a real browser (Debian Chromium driven by playwright-core):
// Continue -> provider login -> consent -> the app's callback; the success page for links without
// a callback URL; the expired page. Screenshots go to $ARTIFACTS_DIR (default: artifacts/ at the
// repository root).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, sleep, startStack, startTether } from './lib/harness.mjs';

process.env.TELEMETRY_DISABLED = 'true';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const SKIP = HAVE_CHROMIUM ? false : `${CHROMIUM} is missing (apt-get install chromium)`;
const ARTIFACTS = path.resolve(REPO_ROOT, process.env.ARTIFACTS_DIR || 'artifacts');
const APP = 'https://app.example.test/callback';

let stack;
let browser;
let composio;

async function newPage() {
    const context = await browser.newContext({ viewport: { width: 900, height: 760 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    await page.route(/fonts\.googleapis\.com|fonts\.gstatic\.com/, (r) => r.abort());
    return { context, page };
}

async function link(callbackUrl) {
    const session = await composio.create('browser_user', { manageConnections: false });
    return session.authorize('gmail', callbackUrl ? { callbackUrl } : undefined);
}

// On tether's page: Continue; at the provider: sign in, consent.
async function playUser(page) {
    await page
        .locator('form[method="post"] button, form[method="post"] input[type="submit"]')
        .first()
        .click();
    await page.waitForSelector('input[name=login]');
    await page.fill('input[name=login]', 'browser_user');
    await page.fill('input[name=password]', 'any-password');
    await page.click('button[type=submit]');
    await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
    await page.click('button[type=submit]');
}

before(async () => {
    if (SKIP) return;
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startStack();
    const { Composio } = await import('@composio/core');
    composio = new Composio({
        apiKey: stack.tether.apiKey,
        baseURL: stack.tether.url,
        allowTracking: false,
        disableVersionCheck: true,
    });
    await composio.authConfigs.create('gmail', {
        type: 'use_custom_auth',
        authScheme: 'OAUTH2',
        credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
    });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-dev-shm-usage',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
        ],
    });
});

after(async () => {
    await browser?.close().catch(() => {});
    await stack?.stop();
});

test(
    'Connect Link in a browser lands on the app callback',
    { skip: SKIP, timeout: 45000 },
    async () => {
        const req = await link(`${APP}?from=browser`);
        const { context, page } = await newPage();
        try {
            let landed;
            const reached = new Promise((resolve) => {
                page.route(`${APP}**`, (route) => {
                    landed = route.request().url();
                    route.fulfill({
                        status: 200,
                        contentType: 'text/html',
                        body: '<h1>the app</h1>',
                    });
                    resolve();
                });
            });
            const T0=Date.now(); globalThis.T0=T0; const resp = await page.goto(req.redirectUrl);
            assert.equal(resp.status(), 200, 'the Connect Link page answers 200');
            const csp = resp.headers()['content-security-policy'] ?? '';
            assert.match(
                csp,
                /frame-ancestors 'none'/,
                `the page sends CSP frame-ancestors 'none' (got "${csp}")`,
            );
            const text = await page.textContent('body');
            assert.match(text, /gmail/i, 'the page names the toolkit');
            await page.screenshot({
                path: path.join(ARTIFACTS, 'connect-link.png'),
                fullPage: true,
            });
            await playUser(page);
            await reached; process.stderr.write('reached '+(Date.now()-T0)+'\n');
            const q = new URL(landed).searchParams;
            assert.equal(q.get('from'), 'browser', `the app's parameters are kept: ${landed}`);
            assert.equal(q.get('status'), 'success', `status=success: ${landed}`);
            assert.equal(q.get('connected_account_id'), req.id, `connected_account_id: ${landed}`);
        } finally {
            await context.close();
        }
    },
);

test(
    "without a callback URL the flow ends on tether's success page",
    { skip: SKIP, timeout: 45000 },
    async () => {
        const req = await link(null);
        const { context, page } = await newPage();
        try {
            await page.goto(req.redirectUrl);
            await playUser(page);
            await page.waitForFunction(
                () => /Connected/.test(document.body?.innerText ?? ''),
                null,
                { timeout: 15000 },
            );
            assert.ok(
                page.url().startsWith(stack.tether.url),
                `the success page is tether's own: ${page.url()}`,
            );
            await page.screenshot({ path: path.join(ARTIFACTS, 'success.png'), fullPage: true });
            const acct = await composio.connectedAccounts.get(req.id);
            assert.equal(acct.status, 'ACTIVE');
        } finally {
            await context.close();
        }
    },
);

test('an expired link shows the expired page', { skip: SKIP, timeout: 45000 }, async () => {
    const short = await startTether({ catalogDir: stack.catalogDir, linkTtl: 1 });
    const { context, page } = await newPage();
    try {
        const { Composio } = await import('@composio/core');
        const c = new Composio({
            apiKey: short.apiKey,
            baseURL: short.url,
            allowTracking: false,
            disableVersionCheck: true,
        });
        await c.authConfigs.create('gmail', {
            type: 'use_custom_auth',
            authScheme: 'OAUTH2',
            credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
        });
        const session = await c.create('browser_user', { manageConnections: false });
        const req = await session.authorize('gmail', { callbackUrl: APP });
        await sleep(2000);
        await page.goto(req.redirectUrl);
        const text = await page.textContent('body');
        assert.match(text, /expired/i, 'the page says the link expired');
        assert.equal(
            await page.locator('form[method="post"]').count(),
            0,
            'an expired link offers no Continue form',
        );
        await page.screenshot({ path: path.join(ARTIFACTS, 'link-expired.png'), fullPage: true });
    } finally {
        await context.close();
        await short.stop();
    }
});
