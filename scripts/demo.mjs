// demo.mjs -- `make demo`: the whole thing on one machine with no internet. Starts tether and a
// local OAuth2 provider (oidc-provider), points gmail and github at it, runs the C example
// (examples/putting_together.c), plays the end user on each Connect Link it prints, and lists the
// accounts with the CLI. Everything started here is stopped at the end.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { REPO_ROOT, api, completeConnectLink, startStack } from '../tests/node/lib/harness.mjs';

const build = process.env.BUILD || 'build';
const bin = (p) => path.join(REPO_ROOT, build, p);
const say = (s) => console.log(`\x1b[1mdemo:\x1b[0m ${s}`);
const user = 'user_123';

const stack = await startStack({});
const { tether } = stack;
let code = 1;
try {
    say(`tether on ${tether.url}, OAuth provider on ${stack.provider.issuer}`);
    for (const slug of ['gmail', 'github']) {
        const r = await api(tether, 'POST', '/api/v3.1/auth_configs', {
            toolkit: { slug },
            auth_config: {
                type: 'use_custom_auth',
                authScheme: 'OAUTH2',
                credentials: { client_id: 'tether-post', client_secret: 'tether-post-secret' },
            },
        });
        say(`auth config for ${slug}: ${r.json?.auth_config?.id ?? r.text}`);
    }
    const env = { ...process.env, TETHER_BASE_URL: tether.url, TETHER_API_KEY: tether.apiKey };
    say(`running ${build}/examples/putting_together ${user}`);
    const child = spawn(bin('examples/putting_together'), [user], { env });
    const done = new Promise((resolve) => child.on('exit', (c) => resolve(c)));
    child.stderr.pipe(process.stderr);
    const users = [];
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
        console.log(`  | ${line}`);
        const m = line.match(/^Connect (\S+): (\S+)$/);
        if (m) {
            say(`playing the user: opening ${m[2]}, signing in at the provider, giving consent`);
            users.push(completeConnectLink(m[2], { login: 'alice' }));
        }
    });
    code = await done;
    await Promise.allSettled(users);
    say(`tether accounts list --user ${user}`);
    spawnSync(bin('tether'), ['accounts', 'list', '--user', user], { env, stdio: 'inherit' });
} finally {
    await stack.stop();
}
process.exit(code);
