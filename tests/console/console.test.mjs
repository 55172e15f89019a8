// Browser tests of the openintent-server console: Chromium driven by Playwright against a
// server this script starts (an ephemeral port, a temporary SQLite file). Agents are simulated
// with API calls from here; the person acts through the console.
//
//   OPENINTENT_SERVER_BIN  the server binary (default: target/debug/openintent-server)
//   CHROMIUM               the browser (default: /usr/bin/chromium)
//   SCREENSHOTS            a folder to save the documentation screenshots in (default: none)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.OPENINTENT_SERVER_BIN || join(ROOT, 'target', 'debug', 'openintent-server');
const SHOTS = process.env.SCREENSHOTS ? resolve(ROOT, process.env.SCREENSHOTS) : null;
const HUMAN_KEY = 'console-human-key';
const BOT_KEY = 'console-bot-key';
const WAIT = 10_000;

let server;
let base;
let dir;
let browser;
const problems = [];

async function startServer(port = 0) {
  dir = dir || mkdtempSync(join(tmpdir(), 'oi-console-'));
  const child = spawn(BIN, [
    '--host', '127.0.0.1', '--port', String(port), '--database-url', `sqlite:///${join(dir, 'console.db')}`,
    '--api-keys', `${HUMAN_KEY}=:admin,${BOT_KEY}=bot:agent`, '--no-webhooks', '--log-level', 'warn',
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('the server did not start within 20 s')), 20_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on('exit', (code) => fail(new Error(`the server exited (${code})`)));
  });
  return { child, url };
}

/** An API call as the simulated agent `bot` (or as `key`/`agent`). */
async function call(method, path, body, { key = BOT_KEY, agent = 'bot', headers = {} } = {}) {
  const resp = await fetch(base + path, {
    method,
    headers: { 'X-API-Key': key, 'X-Agent-ID': agent, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  const json = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${text}`);
  return json;
}

const createIntent = (title, extra = {}) => call('POST', '/api/v1/intents', { title, ...extra });

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  return page;
}

async function signIn(page, key = HUMAN_KEY, name = 'alice') {
  await page.goto(`${base}/console`);
  await page.fill('#api-key', key);
  await page.fill('#agent-id', name);
  await page.click('#sign-in button[type=submit]');
}

before(async () => {
  const s = await startServer();
  server = s.child;
  base = s.url;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a wrong key is refused and the console says so', async () => {
  const page = await newPage();
  await signIn(page, 'not-a-key', 'mallory');
  await page.waitForSelector('#sign-in-error:has-text("401")');
  assert.match(await page.textContent('#sign-in-error'), /refused this key \(401\)/);
  assert.equal(await page.isVisible('#nav'), false);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.context().close();
});

test('signing in shows the inbox; the key stays in sessionStorage only; signing out forgets it', async () => {
  const page = await newPage();
  await signIn(page);
  await page.waitForSelector('#inbox-list', { state: 'attached' });
  await page.waitForSelector('#inbox-status:has-text("waiting")');
  await page.waitForSelector('#connection.conn-live');
  assert.equal(await page.textContent('#agent-name'), 'alice');
  assert.equal(await page.evaluate(() => document.cookie), '');
  assert.ok(!page.url().includes(HUMAN_KEY));
  assert.match(await page.evaluate(() => JSON.stringify(sessionStorage)), /console-human-key/);
  await page.click('#sign-out');
  await page.waitForSelector('#sign-in');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.context().close();
});

test('an event logged by an agent appears live on the intent page', async () => {
  const intent = await createIntent('Watch me live');
  const page = await newPage();
  await signIn(page);
  await page.goto(`${base}/console#/intent/${intent.id}`);
  await page.waitForSelector('#events li[data-type="intent_created"]');
  await call('POST', `/api/v1/intents/${intent.id}/events`, { event_type: 'comment', payload: { message: 'hello from bot' } });
  const ev = await page.waitForSelector('#events li[data-type="comment"]');
  assert.match(await ev.textContent(), /hello from bot/);
  assert.match(await ev.textContent(), /by bot/);
  await page.context().close();
});

test('answering a suspended intent resumes it, and the agent’s next write shows', async () => {
  const intent = await createIntent('Refund order 12345');
  const suspended = await call('POST', `/api/v1/intents/${intent.id}/suspend`, {
    question: 'Refund 120 EUR to the customer?',
    response_type: 'choice',
    choices: [{ value: 'refund', label: 'Refund', style: 'primary' }, { value: 'reject', label: 'Reject', style: 'danger' }],
  }, { headers: { 'If-Match': String(intent.version) } });
  const page = await newPage();
  await signIn(page);
  const item = page.locator('#inbox-list li[data-kind="input"]', { hasText: 'Refund 120 EUR' });
  await item.waitFor();
  await item.getByRole('button', { name: 'Refund' }).click();
  await item.waitFor({ state: 'detached' });
  const resumed = await call('GET', `/api/v1/intents/${intent.id}`);
  assert.equal(resumed.status, 'active');
  assert.equal(resumed.state._suspension.response, 'refund');
  assert.equal(resumed.state._suspension.responded_by, 'alice');
  // The agent carries on; the intent page follows.
  await page.goto(`${base}/console#/intent/${intent.id}`);
  await page.waitForSelector('#intent-status:has-text("active")');
  await call('POST', `/api/v1/intents/${intent.id}/state`, { patches: [{ op: 'set', path: '/refund', value: 'sent' }] },
    { headers: { 'If-Match': String(resumed.version) } });
  await page.waitForSelector('#intent-state :text("\\"sent\\"")');
  assert.ok(suspended.version > intent.version);
  await page.context().close();
});

test('approving a governed completion leaves every open inbox at once, and the intent completes', async () => {
  const intent = await createIntent('Deploy release 2.0');
  const governed = await call('PUT', `/api/v1/intents/${intent.id}/governance`, { completion_mode: 'require_approval' },
    { headers: { 'If-Match': String(intent.version) } });
  await call('POST', `/api/v1/intents/${intent.id}/status`, { status: 'active' }, { headers: { 'If-Match': String(governed.version) } });
  const page = await newPage();
  const other = await newPage();
  await signIn(page);
  await signIn(other, HUMAN_KEY, 'bob');
  await page.waitForSelector('#connection.conn-live');
  await other.waitForSelector('#connection.conn-live');
  const approval = await call('POST', `/api/v1/intents/${intent.id}/approvals`, { action: 'complete', reason: 'Checks passed' });
  // No reload: the request reaches both open inboxes live (within 5 s, well before the 15 s re-read).
  const item = page.locator(`#inbox-approval-${approval.id}`);
  const mirror = other.locator(`#inbox-approval-${approval.id}`);
  await item.waitFor({ timeout: 5000 });
  await mirror.waitFor({ timeout: 5000 });
  await item.locator('input.reason').fill('Looks good');
  await item.getByRole('button', { name: 'Approve' }).click();
  await item.waitFor({ state: 'detached' });
  await mirror.waitFor({ state: 'detached', timeout: 5000 });
  const decided = await call('GET', `/api/v1/intents/${intent.id}/approvals/${approval.id}`);
  assert.equal(decided.status, 'approved');
  assert.equal(decided.decided_by, 'alice');
  await page.goto(`${base}/console#/intent/${intent.id}`);
  await page.waitForSelector('#intent-status:has-text("active")');
  const current = await call('GET', `/api/v1/intents/${intent.id}`);
  await call('POST', `/api/v1/intents/${intent.id}/status`, { status: 'completed' }, { headers: { 'If-Match': String(current.version) } });
  await page.waitForSelector('#intent-status:has-text("completed")');
  await page.context().close();
  await other.context().close();
});

test('recording a decision on an arbitration settles it', async () => {
  const intent = await createIntent('Pick a vendor');
  const page = await newPage();
  await signIn(page);
  await page.waitForSelector('#connection.conn-live');
  const arb = await call('POST', `/api/v1/intents/${intent.id}/arbitrate`, {
    reason: 'Two agents disagree', options: [{ label: 'Vendor A', rationale: 'cheaper' }, { label: 'Vendor B', rationale: 'faster' }],
  });
  const item = page.locator(`#inbox-arbitration-${arb.id}`);
  await item.waitFor();
  await item.locator('select').selectOption('Vendor B');
  await item.locator('textarea.rationale').fill('Speed matters more this quarter');
  await item.getByRole('button', { name: 'Record decision' }).click();
  await item.waitFor({ state: 'detached' });
  const decisions = await call('GET', `/api/v1/intents/${intent.id}/decisions`);
  assert.equal(decisions.length, 1);
  assert.equal(decisions[0].outcome, 'Vendor B');
  assert.equal(decisions[0].rationale, 'Speed matters more this quarter');
  assert.equal(decisions[0].decided_by, 'alice');
  await page.context().close();
});

test('a title holding markup renders as text and runs nothing', async () => {
  const title = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
  const intent = await createIntent(title, { description: '<b onmouseover="window.__pwned = 3">bold?</b>' });
  const page = await newPage();
  await signIn(page);
  await page.goto(`${base}/console#/intents`);
  await page.waitForSelector('#intents-table');
  await page.goto(`${base}/console#/intent/${intent.id}`);
  await page.waitForSelector('#intent-title');
  assert.equal(await page.textContent('#intent-title'), title);
  assert.equal(await page.locator('#main script, #main img').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.context().close();
});

test('console pages carry the security headers', async () => {
  const resp = await fetch(`${base}/console`);
  assert.match(resp.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal(resp.headers.get('x-frame-options'), 'DENY');
  const root = await fetch(`${base}/`, { redirect: 'manual' });
  assert.equal(root.headers.get('location'), '/console');
});

test('screenshots of the inbox, an intent page and its graph', { skip: !SHOTS }, async () => {
  // A small project: a release with children and dependencies, costs, a lease, questions.
  const root = await createIntent('Release 3.1', { description: 'Ship the 3.1 release' });
  const build = await call('POST', `/api/v1/intents/${root.id}/children`, { title: 'Build artifacts' });
  const tests = await call('POST', `/api/v1/intents/${root.id}/children`, { title: 'Run test matrix' });
  const notes = await call('POST', `/api/v1/intents/${root.id}/children`, { title: 'Write release notes' });
  await call('POST', `/api/v1/intents/${tests.id}/dependencies`, { dependency_id: build.id }, { headers: { 'If-Match': String(tests.version) } });
  const publish = await call('POST', `/api/v1/intents/${root.id}/children`, { title: 'Publish', depends_on: [tests.id, notes.id] });
  const b = await call('POST', `/api/v1/intents/${build.id}/status`, { status: 'active' }, { headers: { 'If-Match': '1' } });
  await call('POST', `/api/v1/intents/${build.id}/status`, { status: 'completed' }, { headers: { 'If-Match': String(b.version) } });
  await call('POST', `/api/v1/intents/${tests.id}/status`, { status: 'active' }, { headers: { 'If-Match': String((await call('GET', `/api/v1/intents/${tests.id}`)).version) } });
  let r = await call('POST', `/api/v1/intents/${root.id}/status`, { status: 'active' }, { headers: { 'If-Match': String(root.version) } });
  r = await call('POST', `/api/v1/intents/${root.id}/state`, { patches: [
    { op: 'set', path: '/plan', value: { steps: ['build', 'test', 'publish'], owner: 'release-bot' } },
    { op: 'set', path: '/progress', value: 0.4 }] }, { headers: { 'If-Match': String(r.version) } });
  for (const [amount, unit] of [[1200, 'tokens'], [0.02, 'USD'], [3400, 'tokens'], [0.05, 'USD'], [2100, 'tokens']]) {
    await call('POST', `/api/v1/intents/${root.id}/costs`, { agent_id: 'bot', cost_type: unit === 'USD' ? 'api' : 'llm', amount, unit });
    await new Promise((ok) => setTimeout(ok, 120));
  }
  await call('POST', `/api/v1/intents/${root.id}/leases`, { scope: 'changelog', duration_seconds: 600 });
  await call('POST', `/api/v1/intents/${root.id}/events`, { event_type: 'comment', payload: { message: 'Build finished in 4 min' } });
  await call('POST', `/api/v1/intents/${root.id}/attachments`, { filename: 'build.log', mime_type: 'text/plain', size: 5, storage_url: 'data:text/plain;base64,aGVsbG8=' });
  await call('POST', `/api/v1/intents/${notes.id}/suspend`, { question: 'Mention the breaking change in the headline?', response_type: 'confirm' }, { headers: { 'If-Match': '1' } });
  await call('POST', `/api/v1/intents/${publish.id}/arbitrate`, { reason: 'Publish today or after the freeze?', options: [{ label: 'Today' }, { label: 'After the freeze' }] });
  await call('POST', `/api/v1/intents/${root.id}/escalations`, { reason: 'Signing key expires tomorrow', priority: 'high' });

  const page = await newPage();
  await signIn(page);
  await page.waitForSelector('#inbox-list li[data-kind="escalation"]');
  await page.screenshot({ path: join(SHOTS, 'inbox.png'), fullPage: true });
  await page.goto(`${base}/console#/intent/${root.id}`);
  await page.waitForSelector('#graph-svg');
  await page.waitForSelector('#cost-chart');
  await page.waitForSelector('#events li[data-type="comment"]');
  await page.screenshot({ path: join(SHOTS, 'intent.png'), fullPage: true });
  await page.locator('#graph').screenshot({ path: join(SHOTS, 'graph.png') });
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const small = await phone.newPage();
  await small.goto(`${base}/console`);
  await small.fill('#api-key', HUMAN_KEY);
  await small.fill('#agent-id', 'alice');
  await small.click('#sign-in button[type=submit]');
  await small.waitForSelector('#inbox-list li');
  await small.screenshot({ path: join(SHOTS, 'inbox-phone.png') });
  await phone.close();
  await page.context().close();
});

test('portfolios show their progress; agents their capabilities and heartbeat age, stale marked', async () => {
  const portfolio = await call('POST', '/api/v1/portfolios', { name: 'Q4 launch' });
  const done = await createIntent('Done part');
  const active = await call('POST', `/api/v1/intents/${done.id}/status`, { status: 'active' }, { headers: { 'If-Match': '1' } });
  await call('POST', `/api/v1/intents/${done.id}/status`, { status: 'completed' }, { headers: { 'If-Match': String(active.version) } });
  const open = await createIntent('Open part');
  for (const i of [done, open]) await call('POST', `/api/v1/portfolios/${portfolio.id}/intents`, { intent_id: i.id });
  await call('POST', '/api/v1/agents', { agent_id: 'bot', capabilities: ['research', 'summaries'] });
  await call('POST', '/api/v1/agents/bot/heartbeat', {});
  await call('POST', '/api/v1/agents', { agent_id: 'silent' }, { key: HUMAN_KEY, agent: 'silent' });

  const page = await newPage();
  await signIn(page);
  await page.goto(`${base}/console#/portfolios`);
  const card = page.locator('#portfolios li.card', { hasText: 'Q4 launch' });
  await card.waitFor();
  assert.equal(await card.locator('progress').getAttribute('value'), '50');
  assert.match(await card.textContent(), /50% complete \(2 intents\)/);
  await page.goto(`${base}/console#/agents`);
  const bot = page.locator('#agents-table tr', { hasText: 'bot' });
  await bot.waitFor();
  assert.match(await bot.textContent(), /research/);
  assert.match(await bot.textContent(), /s ago/);
  assert.equal(await bot.locator('.st-stale').count(), 0);
  const silent = page.locator('#agents-table tr', { hasText: 'silent' });
  assert.match(await silent.textContent(), /never/);
  assert.equal(await silent.locator('.st-stale').count(), 1);
  await page.context().close();
});

test('the header shows the connection dropping and coming back; the log goes on without a gap', async () => {
  const intent = await createIntent('Survive a restart');
  const page = await newPage();
  await signIn(page);
  await page.goto(`${base}/console#/intent/${intent.id}`);
  await page.waitForSelector('#events li[data-type="intent_created"]');
  await page.waitForSelector('#connection.conn-live');
  // Stop the server: every stream ends, the console says so.
  const stopped = new Promise((ok) => server.once('exit', ok));
  server.kill('SIGTERM');
  await stopped;
  await page.waitForSelector('#connection.conn-down');
  assert.equal(await page.textContent('#connection'), 'reconnecting…');
  // The same server again (same port, same database): the console reconnects by itself.
  const port = new URL(base).port;
  server = (await startServer(port)).child;
  await call('POST', `/api/v1/intents/${intent.id}/events`, { event_type: 'comment', payload: { message: 'after the restart' } });
  await page.waitForSelector('#connection.conn-live', { timeout: 30_000 });
  await page.waitForSelector('#events li[data-type="comment"]:has-text("after the restart")');
  assert.equal(await page.locator('#events li[data-type="intent_created"]').count(), 1);
  await page.context().close();
});

test('no page error and no Content-Security-Policy violation happened', () => {
  assert.deepEqual(problems, []);
});
