// The admin dashboard and white-labelled Connect Link pages in a real browser (Debian Chromium
// driven by playwright-core), against a tether holding 10,000 seeded accounts:
//   - sign in with the API key, find an account by user id, disable it behind the confirmation
//     page, see the status change, sign out (and the old session cookie no longer works);
//   - list pages stay fast with 10,000 accounts (cursor pagination);
//   - user ids and aliases carrying markup are shown as text, never run;
//   - branding set through the dashboard shows on the Connect Link: the app's name and logo.
// Screenshots go to $ARTIFACTS_DIR (default: artifacts/ at the repository root).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, startTether, tempDir } from './lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SKIP = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;
const ARTIFACTS = path.resolve(REPO_ROOT, process.env.ARTIFACTS_DIR || 'artifacts');
const SEED = Number(process.env.DASH_SEED_ACCOUNTS || 10000);
const TARGET_USER = 'dash_target_user';
const XSS_USER = '<img src=x onerror="window.__xss=1">';
const XSS_ALIAS = '<script>window.__xss=2</script>';
const LOGO_URL = 'https://logo.example.test/acme.svg';
const LOGO_SVG =
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">' +
    '<rect width="64" height="64" rx="14" fill="#e8590c"/>' +
    '<text x="32" y="44" font-size="34" font-family="sans-serif" fill="#fff" ' +
    'text-anchor="middle">A</text></svg>';
// Generous for sanitizer builds; a plain build answers in a few milliseconds.
const PAGE_BUDGET_MS = Number(process.env.DASH_PAGE_BUDGET_MS || 1500);

let tether;
let browser;
let authConfigId;
let targetId;

async function api(method, p, body) {
    const r = await fetch(`${tether.url}/api/v3.1${p}`, {
        method,
        headers: { 'x-api-key': tether.apiKey, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status >= 300) throw new Error(`${method} ${p}: HTTP ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
}

function link(userId, alias) {
    return api('POST', '/connected_accounts/link', {
        auth_config_id: authConfigId,
        user_id: userId,
        ...(alias ? { alias } : {}),
    });
}

// A catalogue with "dashkey": an API-key toolkit whose key is accepted without a test request.
function writeCatalog() {
    const dir = tempDir('tether-dash-catalog-');
    const owm = JSON.parse(
        fs.readFileSync(path.join(REPO_ROOT, 'catalog/toolkits/openweathermap.json'), 'utf8'),
    );
    const schemes = owm.auth_schemes.map(({ test_request: _drop, ...s }) => s);
    const entry = { ...owm, slug: 'dashkey', name: 'Dash Key', auth_schemes: schemes, tools: [] };
    fs.writeFileSync(path.join(dir, 'dashkey.json'), JSON.stringify(entry));
    return dir;
}

// Plays the end user of a Connect Link over HTTP: reads the form, submits an API key.
async function finishKeyLink(url) {
    const page = await fetch(url);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
    const html = await page.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(csrf, 'the Connect Link form carries a CSRF token');
    const r = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, api_key: 'sk_test_dashboard' }).toString(),
    });
    assert.ok(r.status < 400, `the key form is accepted (HTTP ${r.status})`);
}

// Seeds n accounts with `parallel` requests in flight; returns the elapsed milliseconds.
async function seed(n, parallel = 48) {
    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
        while (next < n) {
            const i = next++;
            await link(`user_${String(i).padStart(5, '0')}`);
        }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return Date.now() - t0;
}

// Signs in over HTTP; returns the session cookie ("tether_dash=...").
async function signInHttp() {
    const form = await fetch(`${tether.url}/dashboard/signin`);
    const login = (form.headers.get('set-cookie') ?? '').split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1];
    const r = await fetch(`${tether.url}/dashboard/signin`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, api_key: tether.apiKey }).toString(),
    });
    assert.equal(r.status, 302, 'sign-in redirects to the dashboard');
    return (r.headers.get('set-cookie') ?? '').split(';')[0];
}

async function timedGet(p, cookie) {
    const t0 = performance.now();
    const r = await fetch(`${tether.url}${p}`, { headers: { cookie }, redirect: 'manual' });
    const html = await r.text();
    return { status: r.status, html, ms: performance.now() - t0 };
}

async function newPage() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    await context.route('https://logo.example.test/**', (route) =>
        route.fulfill({ status: 200, contentType: 'image/svg+xml', body: LOGO_SVG }),
    );
    return { context, page };
}

const shot = (page, name) => page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });

before(async () => {
    if (SKIP) return;
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    tether = await startTether({
        catalogDir: writeCatalog(),
        env: { TETHER_RATE_PAGES: '1000' },
    });
    const ac = await api('POST', '/auth_configs', {
        toolkit: { slug: 'dashkey' },
        auth_config: { type: 'use_composio_managed_auth' },
    });
    authConfigId = ac.auth_config.id;
    const ms = await seed(SEED);
    console.log(`# seeded ${SEED} accounts in ${ms} ms`);
    await link(XSS_USER, XSS_ALIAS);
    const target = await link(TARGET_USER, 'work');
    targetId = target.connected_account_id;
    await finishKeyLink(target.redirect_url);
    const acct = await api('GET', `/connected_accounts/${targetId}`);
    assert.equal(acct.status, 'ACTIVE', 'the target account is ACTIVE before the browser test');
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--no-first-run'],
    });
});

after(async () => {
    await browser?.close().catch(() => {});
    await tether?.stop();
});

test('list pages stay fast with 10,000 accounts', { skip: SKIP, timeout: 60000 }, async () => {
    const cookie = await signInHttp();
    await timedGet('/dashboard/accounts', cookie); // warm the read connection
    let p = '/dashboard/accounts';
    const times = [];
    for (let i = 0; i < 4; i++) {
        const r = await timedGet(p, cookie);
        assert.equal(r.status, 200, `${p} answers 200`);
        times.push(r.ms);
        const rows = r.html.match(/<tr data-id="ca_/g) ?? [];
        assert.equal(rows.length, 50, `${p} shows one page of 50 rows`);
        if (i === 0) assert.match(r.html, new RegExp(`id="total">${SEED + 2}<`), 'total count');
        const next = /rel="next" href="([^"]+)"/.exec(r.html)?.[1];
        assert.ok(next, 'a next-page link');
        p = next.replaceAll('&amp;', '&').replaceAll('&#61;', '=');
    }
    const search = await timedGet(`/dashboard/accounts?q=user_04321`, cookie);
    assert.equal((search.html.match(/<tr data-id="ca_/g) ?? []).length, 1, 'search by user id');
    const overview = await timedGet('/dashboard', cookie);
    assert.equal(overview.status, 200);
    assert.match(overview.html, /<svg[^>]*role="img"/, 'the overview draws the chart as SVG');
    times.push(search.ms, overview.ms);
    console.log(`# page times (ms): ${times.map((t) => t.toFixed(1)).join(' ')}`);
    for (const t of times) assert.ok(t < PAGE_BUDGET_MS, `a page took ${t.toFixed(1)} ms`);
});

test(
    'sign in, find an account by user id, disable it, sign out',
    { skip: SKIP, timeout: 90000 },
    async () => {
        const { context, page } = await newPage();
        try {
            await page.goto(`${tether.url}/dashboard`);
            assert.match(page.url(), /\/dashboard\/signin$/, 'signed out: the sign-in page');
            await shot(page, 'dashboard-signin.png');
            await page.fill('input[name=api_key]', tether.apiKey);
            await page.click('button[type=submit]');
            await page.waitForURL(/\/dashboard$/);
            await page.waitForSelector('svg[role=img]');
            await shot(page, 'dashboard-overview.png');

            const cookies = await context.cookies(`${tether.url}/dashboard`);
            const session = cookies.find((c) => c.name === 'tether_dash');
            assert.ok(session, 'a session cookie');
            assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
            assert.equal(session.sameSite, 'Strict', 'the session cookie is SameSite=Strict');
            assert.equal(session.path, '/dashboard', 'the session cookie is scoped to /dashboard');

            await page.click('nav a[href="/dashboard/accounts"]');
            await page.waitForSelector('#accounts');
            await shot(page, 'dashboard-accounts.png');
            await page.fill('input[name=q]', TARGET_USER);
            await page.click('form[role=search] button[type=submit]');
            await page.waitForURL(/q=dash_target_user/);
            const rows = page.locator('#accounts tbody tr[data-id]');
            assert.equal(await rows.count(), 1, 'one account for the user');
            assert.equal(await rows.first().getAttribute('data-id'), targetId);
            assert.match(await rows.first().innerText(), /ACTIVE/);
            await shot(page, 'dashboard-search.png');

            await rows.first().locator(`a[href="/dashboard/accounts/${targetId}"]`).click();
            await page.waitForSelector('#status');
            assert.equal((await page.textContent('#status')).trim(), 'ACTIVE');
            await page.click('a:has-text("Disable")');
            await page.waitForSelector('#confirm');
            await shot(page, 'dashboard-confirm-disable.png');
            await page.click('#confirm');
            await page.waitForSelector('.notice');
            assert.equal((await page.textContent('#status')).trim(), 'INACTIVE', 'status changed');
            assert.match(await page.textContent('#events'), /account\.disabled/, 'history shows it');
            await shot(page, 'dashboard-disabled.png');
            const acct = await api('GET', `/connected_accounts/${targetId}`);
            assert.equal(acct.status, 'INACTIVE', 'the API agrees');

            await page.click('form.signout button');
            await page.waitForURL(/\/dashboard\/signin$/);
            const replay = await fetch(`${tether.url}/dashboard`, {
                headers: { cookie: `tether_dash=${session.value}` },
                redirect: 'manual',
            });
            assert.equal(replay.status, 302, 'the old session cookie is dead after sign-out');
            await page.goto(`${tether.url}/dashboard/accounts`);
            assert.match(page.url(), /\/dashboard\/signin$/, 'signed out for good');
        } finally {
            await context.close();
        }
    },
);

test('markup in user ids and aliases is shown as text', { skip: SKIP, timeout: 45000 }, async () => {
    const { context, page } = await newPage();
    try {
        await page.goto(`${tether.url}/dashboard/signin`);
        await page.fill('input[name=api_key]', tether.apiKey);
        await page.click('button[type=submit]');
        await page.waitForURL(/\/dashboard$/);
        await page.goto(`${tether.url}/dashboard/accounts?q=${encodeURIComponent(XSS_USER)}`);
        const row = page.locator('#accounts tbody tr[data-id]');
        assert.equal(await row.count(), 1, 'the account is found by its odd user id');
        const text = await row.innerText();
        assert.ok(text.includes(XSS_USER), 'the user id is shown literally');
        assert.ok(text.includes(XSS_ALIAS), 'the alias is shown literally');
        assert.equal(await page.locator('img[src=x]').count(), 0, 'no injected element');
        assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected script ran');
        await shot(page, 'dashboard-xss-escaped.png');
    } finally {
        await context.close();
    }
});

test(
    'branding set in the dashboard shows on the Connect Link',
    { skip: SKIP, timeout: 45000 },
    async () => {
        const { context, page } = await newPage();
        try {
            await page.goto(`${tether.url}/dashboard/signin`);
            await page.fill('input[name=api_key]', tether.apiKey);
            await page.click('button[type=submit]');
            await page.waitForURL(/\/dashboard$/);
            await page.click('nav a[href="/dashboard/branding"]');
            await page.fill('input[name=name]', 'Acme Rockets');
            await page.fill('input[name=logo_url]', LOGO_URL);
            await page.fill('input[name=accent_color]', '#e8590c');
            await page.fill('input[name=support_url]', 'https://help.example.test/');
            await page.click('form.card button[type=submit]');
            await page.waitForSelector('.notice');
            await shot(page, 'dashboard-branding.png');
            const settings = await api('GET', '/project/settings');
            assert.equal(settings.settings?.branding?.name, 'Acme Rockets', 'the API sees the branding');

            const req = await link('branded_user');
            const resp = await page.goto(req.redirect_url);
            assert.equal(resp.status(), 200);
            const body = await page.textContent('body');
            assert.match(body, /Acme Rockets/, "the Connect Link shows the project's name");
            const logo = page.locator(`img[src="${LOGO_URL}"]`);
            assert.equal(await logo.count(), 1, "the Connect Link shows the project's logo");
            await page.waitForFunction((u) => {
                const img = document.querySelector(`img[src="${u}"]`);
                return img && img.complete && img.naturalWidth > 0;
            }, LOGO_URL);
            const accent = await page.evaluate(
                () => getComputedStyle(document.querySelector('button[type=submit]')).backgroundColor,
            );
            assert.equal(accent, 'rgb(232, 89, 12)', 'the button takes the accent colour');
            assert.equal(
                await page.locator('a[href="https://help.example.test/"]').count(),
                1,
                'the support link is shown',
            );
            await shot(page, 'connect-link-branded.png');
        } finally {
            await context.close();
        }
    },
);
