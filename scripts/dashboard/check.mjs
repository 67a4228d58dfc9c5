// Logs into the Aspire dashboard with its browser token, waits until every resource is Running and Healthy,
// opens the gateway's metrics and saves screenshots. Run by scripts/dashboard-check; settings come from the environment:
//   DASHBOARD_URL (http://localhost:18888), DASHBOARD_TOKEN (required), CHROMIUM (/usr/bin/chromium),
//   OUT_DIR (docs/img), RESOURCES (comma-separated names that must be there), TIMEOUT_SECONDS (240),
//   GATEWAY_URL (http://localhost:5080): some traffic is sent through it so the metrics and logs have something to show.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const url = (process.env.DASHBOARD_URL ?? 'http://localhost:18888').replace(/\/$/, '');
const token = process.env.DASHBOARD_TOKEN;
const outDir = process.env.OUT_DIR ?? 'docs/img';
const timeoutMs = Number(process.env.TIMEOUT_SECONDS ?? 240) * 1000;
const expected = (process.env.RESOURCES ??
  'postgres,identitydb,creditsdb,flashdb,redis,identity,credits,flash,clockchain,pro,gateway').split(',');
if (!token) {
  console.error('DASHBOARD_TOKEN is required');
  process.exit(2);
}

mkdirSync(outDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
const started = Date.now();
const left = () => Math.max(1000, timeoutMs - (Date.now() - started));

try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  // The dashboard keeps a live connection open: wait for navigations to commit, not for "load".
  await page.goto(`${url}/login?t=${encodeURIComponent(token)}`, { waitUntil: 'commit' });
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: Math.min(left(), 60000), waitUntil: 'commit' });
  console.log('logged in');

  // The resources page: one row per resource; each must read Running, with no health problem beside it.
  await page.goto(`${url}/`, { waitUntil: 'commit' });
  const rows = await waitForHealthyResources(page);
  console.log(`all ${rows.length} expected resources Running and Healthy`);
  await sendTraffic(process.env.GATEWAY_URL ?? 'http://localhost:5080');
  await dismissBanners(page);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(outDir, 'dashboard-resources.png') });

  // The gateway's own metrics (meter Timepoint.Gateway), with the request counter selected.
  await page.goto(`${url}/metrics/resource/gateway?meter=Timepoint.Gateway&instrument=timepoint.gateway.requests&duration=5&view=Graph`, { waitUntil: 'commit' });
  await page.getByText('timepoint.gateway.requests', { exact: false }).first().waitFor({ timeout: left() });
  await dismissBanners(page);
  await page.waitForTimeout(3000);
  await page.screenshot({ path: join(outDir, 'dashboard-gateway-metrics.png') });
  console.log('gateway metrics shown');

  // Where credits go: the credits meter.
  await page.goto(`${url}/metrics/resource/credits?meter=Timepoint.Credits&instrument=credits.charged&duration=5&view=Graph`, { waitUntil: 'commit' });
  await page.getByText('credits.charged', { exact: false }).first().waitFor({ timeout: left() });
  await dismissBanners(page);
  await page.waitForTimeout(3000);
  await page.screenshot({ path: join(outDir, 'dashboard-credits-metrics.png') });
  console.log('credits metrics shown');

  // Structured logs of the edge: request id, route, auth method and user id as attributes.
  // Filtered to the edge's lines for one route (answers and refusals with their codes); the first one opened, when the
  // dashboard offers its details, to show the attributes (RequestId, Route, AuthMethod, UserId).
  await page.goto(`${url}/structuredlogs/resource/gateway`, { waitUntil: 'commit' });
  await page.locator('input[name="structured-logs-search"]').first().fill('credits-read with');
  const answered = page.getByText('Answered GET credits-read', { exact: false }).first();
  await answered.waitFor({ timeout: left() });
  await page.getByText('Refused GET credits-read', { exact: false }).first().waitFor({ timeout: left() });
  await answered.click();
  await page.getByText('AuthMethod', { exact: true }).first().waitFor({ state: 'visible', timeout: 10000 })
    .catch(() => console.log('(log details panel did not open; the list alone is saved)'));
  await dismissBanners(page);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(outDir, 'dashboard-gateway-logs.png') });
  console.log('gateway structured logs shown');
} finally {
  await browser.close();
}

/** Hides the "No trusted development certificate" notice (the dashboard runs on plain HTTP here) so it covers nothing. */
async function dismissBanners(page) {
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('fluent-message-bar, [class*="message-bar"], [class*="messagebar"]')) {
      if (el.textContent.includes('development certificate')) {
        el.style.display = 'none';
      }
    }
  });
}

/** A client's ordinary calls (demo sign-in, balance, a metered generate, an API key used twice) and a few refusals. */
async function sendTraffic(gateway) {
  const call = async (method, path, { headers = {}, body } = {}) => {
    const response = await fetch(`${gateway}${path}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, json: await response.json().catch(() => null) };
  };
  const demo = await call('POST', '/api/v1/auth/demo');
  if (demo.status !== 200) {
    throw new Error(`demo sign-in through the gateway answered ${demo.status}`);
  }
  const bearer = { authorization: `Bearer ${demo.json.access_token}` };
  await call('GET', '/api/v1/credits/balance', { headers: bearer });
  await call('POST', '/api/v1/timepoints/generate/sync', { headers: bearer, body: { query: 'The signing of the Magna Carta' } });
  await call('GET', '/api/v1/clockchain/stats');
  const key = await call('POST', '/api/v1/auth/api-keys', { headers: bearer, body: { name: 'dashboard-check', scopes: ['read', 'generate'] } });
  const secret = key.json?.key ?? key.json?.api_key ?? key.json?.secret;
  if (secret) {
    for (let i = 0; i < 3; i++) {
      await call('GET', '/api/v1/credits/balance', { headers: { 'x-api-key': secret } });
    }
  }
  await call('GET', '/api/v1/credits/balance');
  await call('GET', '/api/v1/credits/balance', { headers: { authorization: 'Bearer not-a-token' } });
  await call('GET', '/api/v1/credits/balance', { headers: { 'x-api-key': 'tp_gw_not_a_real_key' } });
  console.log('sent sample traffic through the gateway');
}

/** Polls the resources grid until every expected resource's row says Running and none says anything unhealthy. */
async function waitForHealthyResources(page) {
  let last = '';
  while (Date.now() - started < timeoutMs) {
    const texts = await page.locator('[role="row"]').allInnerTexts();
    const rows = expected.map((name) => texts.find((t) => new RegExp(`(^|\\s)${name}(\\s|$)`).test(t)) ?? '');
    const bad = expected.filter((name, i) => !/Running/.test(rows[i]) || /Unhealthy|Degraded|Starting|Waiting|Not started|Finished|Failed/.test(rows[i]));
    if (bad.length === 0) {
      return rows;
    }

    last = bad.map((name) => `${name}: ${(rows[expected.indexOf(name)] || 'missing').replace(/\s+/g, ' ').slice(0, 120)}`).join('\n  ');
    await page.waitForTimeout(2000);
  }

  await page.screenshot({ path: join(outDir, 'dashboard-check-failed.png') });
  throw new Error(`resources not Running/Healthy within ${timeoutMs / 1000} s:\n  ${last}`);
}
