// The admin console walked in headless Chromium, as an admin would (the NineData guide's steps
// 2-6): sign in from the runner's link, add a member, copy the callback URL, fill in the fake
// WeCom's demo app, Test Message Sending, OK, WeCom's Save (the fake's /_fake/verify) right and
// wrong, a subscription, an event, its delivery. tests/browser.sh starts the servers and runs
// this once per language:
//
//   CONSOLE_URL=http://127.0.0.1:PORT/console#token=… FAKE_BASE=http://127.0.0.1:PORT \
//   WALK_LANG=zh-CN SHOT_DIR=target/console-screenshots node walk.mjs
//
// It fails (exit 1) on the first broken expectation, on any error the page logs, on a text
// shown without a translation (⟦key⟧), and on an API call without the chosen Accept-Language.

import { readFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`walk.mjs: ${name} is not set (tests/browser.sh sets it)`);
  return v;
};
const CONSOLE_URL = env('CONSOLE_URL');
const FAKE_BASE = env('FAKE_BASE').replace(/\/$/, '');
const LANG = env('WALK_LANG');
const SHOT_DIR = env('SHOT_DIR');
const ORIGIN = new URL(CONSOLE_URL).origin;
const TOKEN = new URLSearchParams(new URL(CONSOLE_URL).hash.slice(1)).get('token');
if (!TOKEN) throw new Error(`walk.mjs: CONSOLE_URL carries no #token=: ${CONSOLE_URL}`);

// The labels the admin sees, from the catalogue the page embeds.
const catalogue = JSON.parse(readFileSync(join(here, '../../shared/i18n', `${LANG}.json`), 'utf8')).console;
const L = (key) => {
  const s = catalogue[key];
  if (typeof s !== 'string') throw new Error(`walk.mjs: no console text ${key} in ${LANG}`);
  return s;
};
// Labels that must show in this language (not taken from the catalogue, so a catalogue in the
// wrong language fails).
const KNOWN = {
  'zh-CN': { channels: '渠道管理', test: '测试消息发送', successful: '成功', corp: '企业ID', delivered: '已送达' },
  en: { channels: 'Channel Management', test: 'Test Message Sending', successful: 'Successful', corp: 'Company ID', delivered: 'Delivered' },
}[LANG];
if (!KNOWN) throw new Error(`walk.mjs: WALK_LANG must be zh-CN or en, not ${LANG}`);

// The fake WeCom's demo company (tests/src/fake.rs demo_corp) and our own callback secrets.
const DEMO = {
  corp_id: 'ww0123456789abcdef',
  agent_id: '1000002',
  app_secret: 'demo-app-secret',
  phone: '13800000000',
  token: 'ConsoleWalkToken7',
  encoding_aes_key: 'aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9f',
};
if (DEMO.encoding_aes_key.length !== 43) throw new Error('the walk\'s EncodingAESKey must have 43 characters');

const MEMBER = 'zhangsan';
let step = 0;
const started = Date.now();
const problems = [];

function check(cond, what) {
  if (!cond) throw new Error(`[${LANG}] ${what}`);
}

async function api(method, path, body) {
  const resp = await fetch(ORIGIN + path, {
    method,
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      'Accept-Language': LANG,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await resp.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: resp.status, json, text };
}

async function fakeVerify(url, token) {
  const resp = await fetch(`${FAKE_BASE}/_fake/verify`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, token, encoding_aes_key: DEMO.encoding_aes_key, corpid: DEMO.corp_id }),
  });
  const text = await resp.text();
  check(resp.status === 200, `/_fake/verify answered ${resp.status}: ${text}`);
  return JSON.parse(text);
}

async function main() {
  mkdirSync(SHOT_DIR, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const context = await browser.newContext({ locale: LANG, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);

    // Everything the page complains about fails the walk.
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()} (${m.location().url || 'no url'})`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    // Every API call goes in the chosen language; the token never travels in a URL or cookie.
    const apiCalls = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin === ORIGIN && u.pathname.startsWith('/v1/')) {
        const h = r.headers();
        apiCalls.push({ method: r.method(), path: u.pathname, body: r.postData(), at: Date.now() });
        if (h['accept-language'] !== LANG) problems.push(`${r.method()} ${u.pathname} sent Accept-Language ${h['accept-language']}`);
        if (h.cookie) problems.push(`${r.method()} ${u.pathname} sent a cookie`);
      }
      if (u.href.includes(TOKEN)) problems.push(`the token went out in a URL: ${u.pathname}`);
    });
    const sizes = {};
    page.on('response', async (r) => {
      const u = new URL(r.url());
      if (u.origin === ORIGIN && u.pathname.startsWith('/console')) {
        try { sizes[u.pathname] = (await r.body()).length; } catch { /* redirects have no body */ }
      }
    });

    const shot = async (name) => {
      step += 1;
      const text = await page.evaluate(() => document.body.innerText);
      check(!text.includes('\u27e6'), `untranslated text on step ${name}: ${text.match(/\u27e6[^\u27e7]*\u27e7/g)}`);
      check(problems.length === 0, `problems before step ${name}:\n  ${problems.join('\n  ')}`);
      const file = join(SHOT_DIR, `${LANG}-${String(step).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`  ${LANG} ${String(step).padStart(2, '0')} ${name}  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    };

    // --- 1. open the console link -----------------------------------------------------------
    const resp = await page.goto(CONSOLE_URL);
    check(resp.status() === 200, `GET /console answered ${resp.status()}`);
    const h = resp.headers();
    check((h['content-security-policy'] || '').startsWith("default-src 'self'"), `CSP: ${h['content-security-policy']}`);
    check(!(h['content-security-policy'] || '').includes('unsafe-inline'), 'CSP allows inline code');
    check(h['cache-control'] === 'no-store', `Cache-Control: ${h['cache-control']}`);
    check(h['referrer-policy'] === 'no-referrer', `Referrer-Policy: ${h['referrer-policy']}`);
    const channelsTab = page.getByRole('tab', { name: L('tabs.channels') });
    await channelsTab.waitFor();
    check(await channelsTab.getAttribute('aria-selected') === 'true', 'Channel Management is not the first tab shown');
    check(await channelsTab.innerText() === KNOWN.channels, `the first tab reads ${await channelsTab.innerText()}, not ${KNOWN.channels}`);
    const where = await page.evaluate(() => ({
      hash: location.hash, lang: document.documentElement.lang, cookie: document.cookie,
      stored: sessionStorage.getItem('wecom-notify.token'), title: document.title,
    }));
    check(where.hash === '', `the token is still in the address bar: ${where.hash}`);
    check(where.stored === TOKEN, 'the token is not in sessionStorage');
    check(where.cookie === '', `cookies were set: ${where.cookie}`);
    check(where.lang === LANG, `<html lang> is ${where.lang}`);
    check(where.title === L('app.title'), `title ${where.title}`);
    check(await page.locator('#who-org').innerText() === 'demo', 'the header does not show org demo');
    await page.getByText(L('channels.empty')).waitFor();
    await shot('signed-in');

    // --- 2. add member zhangsan → the Configure dialog, callback URL before any save ---------
    await page.getByLabel(L('channels.add_label')).fill(MEMBER);
    await page.getByRole('button', { name: L('channels.add_button') }).click();
    const dialog = page.getByRole('dialog', { name: L('cfg.title').replace('{member}', MEMBER) });
    await dialog.waitFor();
    const callbackUrl = await page.locator('#cfg-callback-url').inputValue();
    check(/^http:\/\/127\.0\.0\.1:\d+\/v1\/wecom\/callback\/[0-9a-f]{32}$/.test(callbackUrl), `callback URL ${callbackUrl}`);
    check(await dialog.getByText(L('cfg.callback_url'), { exact: true }).first().isVisible(), 'no Callback url label');
    check(await dialog.getByRole('button', { name: L('common.copy') }).first().isVisible(), 'no Copy button');
    check(await dialog.getByText(KNOWN.corp, { exact: true }).isVisible(), `no ${KNOWN.corp} label`);
    for (const s of ['app_secret', 'token', 'encoding_aes_key']) {
      check(await page.locator(`#f-${s}`).inputValue() === '', `${s} does not start empty`);
      check(!(await page.locator(`#s-${s}`).isVisible()), `${s} shows "set" before any save`);
    }
    check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'f-corp_id', 'focus is not on the first field');
    await shot('configure');

    // --- 3. fill the fake's demo app, by keyboard ---------------------------------------------
    const typeInto = async (id, value) => {
      check(await page.evaluate(() => document.activeElement.id) === id, `focus is on ${await page.evaluate(() => document.activeElement.id)}, not ${id}`);
      await page.keyboard.type(value);
      await page.keyboard.press('Tab');
    };
    await typeInto('f-corp_id', DEMO.corp_id);
    await typeInto('f-app_secret', DEMO.app_secret);
    await typeInto('f-agent_id', DEMO.agent_id);
    check(await page.evaluate(() => document.activeElement.id) === 'f-source_column', 'Tab did not reach Source Column');
    await page.locator('#f-source_column').selectOption('phone');
    check(await page.locator('#h-source_column').innerText() === L('field.source_column.hint'), 'the Phone hint is missing');
    await page.keyboard.press('Tab');
    await typeInto('f-encoding_aes_key', DEMO.encoding_aes_key);
    await typeInto('f-token', DEMO.token);
    await typeInto('f-receiver', DEMO.phone);
    // Next: the WeChat plugin box, labelled, unticked for a new member.
    check(await page.evaluate(() => document.activeElement.id) === 'f-wechat_plugin', 'Tab did not reach Reads in WeChat');
    check(!(await page.locator('#f-wechat_plugin').isChecked()), 'Reads in WeChat is ticked on a new member');
    check(await page.locator('label[for=f-wechat_plugin]').innerText() === L('field.wechat_plugin'), 'the WeChat plugin box has no label');
    // Shift+Tab from the first control of the dialog stays inside it (focus trap).
    await page.locator('#cfg-close').focus();
    await page.keyboard.press('Shift+Tab');
    check(await page.evaluate(() => !!document.activeElement.closest('#cfg')), 'focus left the dialog');
    await page.locator('#cfg-callback-url').scrollIntoViewIfNeeded();
    await shot('filled');

    // --- 4. Test Message Sending on the unsaved values → Successful ---------------------------
    const testButton = dialog.getByRole('button', { name: L('cfg.test') });
    check(await testButton.innerText() === KNOWN.test, `the test button reads ${await testButton.innerText()}`);
    await testButton.focus();
    await page.keyboard.press('Enter');
    const result = page.locator('#cfg-test .result.ok');
    await result.waitFor();
    check((await result.innerText()).includes(KNOWN.successful), `the result reads ${await result.innerText()}`);
    const steps = await page.locator('#cfg-test .steps li').allInnerTexts();
    check(steps.length === 3 && steps.every((s) => s.trim().startsWith('\u2713')), `steps: ${steps}`);
    const testCall = apiCalls.find((c) => c.method === 'POST' && c.path.endsWith('/wecom-channel/test'));
    const sent = JSON.parse(testCall.body);
    check(Object.keys(sent).length === 7 && sent.agent_id === 1000002 && sent.token === DEMO.token, `the test sent ${testCall.body}`);
    check(apiCalls.every((c) => c.method !== 'PUT'), 'the test saved something');
    await result.scrollIntoViewIfNeeded();
    await shot('test-successful');

    // --- 5. OK → saved, Waiting for WeCom ----------------------------------------------------
    await dialog.getByRole('button', { name: L('cfg.ok'), exact: true }).click();
    await dialog.getByRole('heading', { name: L('wait.title') }).waitFor();
    await dialog.getByText(L('wait.waiting')).waitFor();
    const put = apiCalls.find((c) => c.method === 'PUT');
    check(put && JSON.parse(put.body).app_secret === DEMO.app_secret, 'OK did not PUT the form');
    check(JSON.parse(put.body).wechat_plugin === false, `OK did not PUT the WeChat plugin box: ${put.body}`);
    check(await page.locator('#wait-callback-url').inputValue() === callbackUrl, 'the waiting view shows another URL');
    await shot('waiting');

    // --- 6. WeCom's Save with the right Token → ✓ through the polling --------------------------
    const right = await fakeVerify(callbackUrl, DEMO.token);
    check(right.ok === true && right.status === 200, `verification with the right Token: ${JSON.stringify(right)}`);
    const status = page.locator('#wait-status');
    await page.locator('#wait-status.ok').waitFor({ timeout: 10000 });
    check((await status.innerText()).includes('\u2713') && (await status.innerText()).includes(L('wait.ok')), `status: ${await status.innerText()}`);
    await shot('verified');

    // --- 7. WeCom's Save with a wrong Token → signature_mismatch and its hint -----------------
    const wrong = await fakeVerify(callbackUrl, 'WrongToken99');
    check(wrong.ok === false && wrong.status === 403, `verification with a wrong Token: ${JSON.stringify(wrong)}`);
    await page.locator('#wait-status.fail').waitFor({ timeout: 10000 });
    const view = await api('GET', `/v1/orgs/demo/members/${MEMBER}/wecom-channel`);
    const check_ = view.json.last_callback_check;
    check(check_ && check_.diagnosis === 'signature_mismatch' && check_.hint, `the API shows ${JSON.stringify(check_)}`);
    await page.getByText(check_.hint, { exact: true }).waitFor();
    const failText = await status.innerText();
    check(failText.includes(L('diag.signature_mismatch')) && failText.includes(L('wait.recopy.signature_mismatch')), `status: ${failText}`);
    check(await page.locator('#wait-token-row.attention').isVisible(), 'the Token to re-copy is not highlighted');
    check(await page.locator('#wait-token').inputValue() === DEMO.token, 'the Token to re-copy is not the one saved');
    await shot('signature-mismatch');

    // Esc closes the dialog, and the polling stops with it.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    const closedAt = Date.now();
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'add-member-name', null, { timeout: 3000 })
      .catch(() => check(false, 'focus did not return to what opened the dialog'));
    check(await page.locator('#add-member-name').inputValue() === '', 'the saved member is still in the Add member field');
    await page.waitForTimeout(4500);
    const late = apiCalls.filter((c) => c.at > closedAt + 500 && c.method === 'GET' && c.path.endsWith(`/members/${MEMBER}/wecom-channel`));
    check(late.length === 0, `the dialog kept polling after it closed (${late.length} calls)`);
    const row = page.getByRole('row').filter({ hasText: MEMBER });
    await row.getByText(L('channels.configured'), { exact: true }).waitFor();
    await row.locator('.state.fail').getByText(L('diag.signature_mismatch')).waitFor();
    check(await row.getByText(L('probe.none'), { exact: true }).isVisible(), 'a new channel shows a probe');
    // Probe now: the app's Secret and IP and the member's lookup check out; nothing is sent.
    await page.getByRole('button', { name: L('channels.probe'), exact: true }).click();
    await row.locator('.state.ok').getByText(L('probe.ok')).waitFor();
    check(apiCalls.some((c) => c.method === 'POST' && c.path.includes('/wecom-channels/probe')), 'Probe now did not call the API');
    await shot('channels');

    // --- 8. Subscription: add sql_review / approval_pending, tick Personal Channel -----------
    await channelsTab.focus();
    await page.keyboard.press('ArrowRight');
    const subsTab = page.getByRole('tab', { name: L('tabs.subscriptions') });
    check(await subsTab.getAttribute('aria-selected') === 'true', 'ArrowRight did not select the next tab');
    await page.getByText(L('subs.empty')).waitFor();
    await page.getByLabel(L('subs.col.type'), { exact: true }).fill('sql_review');
    await page.getByLabel(L('subs.col.node'), { exact: true }).fill('approval_pending');
    await page.locator('#add-sub-personal').uncheck();
    await page.getByRole('button', { name: L('subs.add_button'), exact: true }).click();
    const personal = page.getByLabel(L('subs.personal_for').replace('{type}', 'sql_review').replace('{node}', 'approval_pending'));
    await personal.waitFor();
    check(!(await personal.isChecked()), 'the subscription was added ticked');
    // Buttons set through the API (the console does not edit them) survive a tick in the console.
    const buttons = [{ key: 'approve', style: 'primary', text: 'Approve' }]; // in the API's key order
    await api('PUT', '/v1/orgs/demo/subscriptions', { items: [{ subscription_type: 'sql_review', node: 'approval_pending', personal_channel: false, actions: buttons }] });
    await page.locator('#subs-refresh').click();
    await personal.waitFor();
    await personal.check();
    await page.locator('#subs-status').getByText('sql_review / approval_pending').waitFor();
    const subs = await api('GET', '/v1/orgs/demo/subscriptions');
    const sub = subs.json.items.find((s) => s.subscription_type === 'sql_review' && s.node === 'approval_pending');
    check(sub && sub.personal_channel === true, `the API shows ${JSON.stringify(subs.json)}`);
    check(JSON.stringify(sub.actions) === JSON.stringify(buttons), `ticking in the console dropped the buttons: ${JSON.stringify(sub)}`);
    check(await page.getByLabel(L('subs.personal_for').replace('{type}', 'sql_review').replace('{node}', 'approval_pending')).isChecked(), 'the box is not ticked after saving');
    await shot('subscriptions');

    // --- 9. an event from the workflow node → the Deliveries tab shows it delivered ----------
    const envelope = (eventId) => ({
      version: '0', id: eventId, 'detail-type': 'Workflow Node Reached', source: 'workflow',
      account: '111122223333', time: new Date().toISOString(), region: 'ap-east-1', resources: [],
      detail: {
        event_id: eventId, org: 'demo', subscription_type: 'sql_review', node: 'approval_pending',
        recipients: [MEMBER, 'lisi'], title: 'SQL review waiting for you', content: 'prod-db: ALTER TABLE orders',
        url: 'https://workflow.example.com/sql/1', occurred_at: new Date().toISOString(),
      },
    });
    const first = `evt-console-${LANG}-${Date.now()}`;
    const posted = await api('POST', '/v1/local/events', envelope(first));
    check(posted.status === 200, `POST /v1/local/events answered ${posted.status}: ${posted.text}`);
    const outcome = posted.json.outcomes.find((o) => o.member === MEMBER);
    check(outcome && outcome.status === 'delivered', `the event's outcomes: ${posted.text}`);
    await subsTab.focus();
    await page.keyboard.press('ArrowRight');
    const dlvTab = page.getByRole('tab', { name: L('tabs.deliveries') });
    check(await dlvTab.getAttribute('aria-selected') === 'true', 'ArrowRight did not select Deliveries');
    const firstRow = page.getByRole('row').filter({ hasText: first }).filter({ hasText: MEMBER });
    await firstRow.getByText(KNOWN.delivered, { exact: true }).waitFor();
    await page.getByRole('row').filter({ hasText: first }).filter({ hasText: 'lisi' }).getByText(L('reason.no_channel')).waitFor();
    // A second event shows up by itself (auto-refresh), newest first.
    const second = `evt-console-${LANG}-${Date.now()}-2`;
    const again = await api('POST', '/v1/local/events', envelope(second));
    check(again.status === 200, `second event: ${again.text}`);
    await page.getByRole('row').filter({ hasText: second }).filter({ hasText: MEMBER }).getByText(KNOWN.delivered, { exact: true }).waitFor({ timeout: 12000 });
    const order = await page.locator('#dlv-body tr').allInnerTexts();
    check(order[0].includes(second), 'the newest delivery is not first');
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await shot('deliveries');

    // The member filter.
    await page.getByLabel(L('dlv.filter_label'), { exact: true }).fill('lisi');
    await page.getByRole('button', { name: L('dlv.filter_button'), exact: true }).click();
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#dlv-body tr')];
      return rows.length === 2 && rows.every((r) => r.innerText.includes('lisi'));
    });
    await page.getByRole('button', { name: L('dlv.filter_clear'), exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('#dlv-body tr').length === 4);

    // --- 10. the language switch, then sign out ------------------------------------------------
    const other = LANG === 'en' ? 'zh-CN' : 'en';
    const otherCat = JSON.parse(readFileSync(join(here, '../../shared/i18n', `${other}.json`), 'utf8')).console;
    await page.getByLabel(L('header.language')).selectOption(other);
    await page.getByRole('tab', { name: otherCat['tabs.deliveries'] }).waitFor();
    check(await page.evaluate(() => document.documentElement.lang) === other, 'the switch did not change <html lang>');
    check(await page.evaluate(() => localStorage.getItem('wecom-notify.lang')) === other, 'the choice is not remembered');
    await page.getByLabel(otherCat['header.language']).selectOption(LANG);
    await dlvTab.waitFor();
    await page.getByRole('button', { name: L('header.sign_out') }).click();
    await page.getByRole('heading', { name: L('signin.title'), exact: true }).waitFor();
    const after = await page.evaluate(() => sessionStorage.length);
    check(after === 0, `sessionStorage still holds ${after} items after signing out`);
    await page.getByText(L('signin.signed_out')).waitFor();
    await shot('signed-out');

    // The fallback: paste a token (a broken one first).
    const pasted = page.getByLabel(L('signin.token_label'));
    await pasted.fill('not-a-token');
    await page.getByRole('button', { name: L('signin.use_token') }).click();
    await page.getByText(L('signin.bad_token')).waitFor();
    await pasted.fill(TOKEN);
    await page.getByRole('button', { name: L('signin.use_token') }).click();
    await page.getByRole('tab', { name: L('tabs.deliveries') }).waitFor();
    check(await page.evaluate(() => sessionStorage.getItem('wecom-notify.token')) === TOKEN, 'the pasted token is not in sessionStorage');
    await page.getByRole('button', { name: L('header.sign_out') }).click();
    await page.getByRole('heading', { name: L('signin.title'), exact: true }).waitFor();

    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    check(total > 0 && total < 200 * 1024, `the console is ${total} bytes`);
    console.log(`walk ${LANG}: ${step} steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s; console ${total} bytes (${Object.entries(sizes).map(([p, n]) => `${p} ${n}`).join(', ')})`);
    await context.close();
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`walk ${LANG} FAILED at step ${step + 1}: ${e.stack || e}`);
  if (problems.length) console.error(`  also:\n  ${problems.join('\n  ')}`);
  process.exit(1);
});
