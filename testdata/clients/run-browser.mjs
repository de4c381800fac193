#!/usr/bin/env node
// run-browser.mjs opens a client page (page/echotest.html) in Debian's
// Chromium, headless, through playwright-core, waits for the page to set
// window.result and prints one JSON line to stdout:
//
//	{"ok":true,"steps":[{"name":"init","ms":12.3},...],"browserStartMs":310,
//	 "webrtcupMs":820,"scenarioMs":2900,"totalMs":3400,"error":""}
//
// steps[].ms and webrtcupMs count from the page's start (performance.now());
// browserStartMs, scenarioMs (page open to result) and totalMs (launch to
// result) are wall-clock durations measured here. It exits 1 when the scenario
// failed and 2 when it could not be run. The page's console goes to stderr.
//
// Usage: node run-browser.mjs [--timeout MS] [--chromium PATH] URL_OF_PAGE
//
// Nothing is downloaded: the browser is /usr/bin/chromium (apt-get install
// chromium), never one fetched by playwright.
import { chromium } from 'playwright-core';
import { parseArgs } from 'node:util';

// Keep stdout for the result line alone.
console.log = console.info = console.debug = console.error;

const { values, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		timeout: { type: 'string', default: '60000' },
		chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
	},
});
if (positionals.length !== 1) {
	process.stderr.write('usage: node run-browser.mjs [--timeout MS] [--chromium PATH] URL_OF_PAGE\n');
	process.exit(2);
}
const pageURL = positionals[0];
const timeoutMs = Number(values.timeout);

// The flags the workplace fixes for Debian's Chromium: headless, no sandbox
// (we run as root in a container), no network chatter, fake camera and
// microphone that need no permission prompt. playwright adds a fresh
// --user-data-dir of its own.
const chromiumArgs = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--use-fake-ui-for-media-stream',
	'--use-fake-device-for-media-stream',
];

const out = { ok: false, steps: [], browserStartMs: 0, webrtcupMs: 0, scenarioMs: 0, totalMs: 0, error: '' };
const ms = (from) => Math.round((performance.now() - from) * 10) / 10;
const t0 = performance.now();
let browser;
let exitCode = 2;
try {
	browser = await chromium.launch({
		executablePath: values.chromium,
		headless: true,
		args: chromiumArgs,
		timeout: timeoutMs,
	});
	out.browserStartMs = ms(t0);
	out.browserVersion = browser.version();
	const page = await browser.newPage();
	page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
	page.on('pageerror', (err) => process.stderr.write(`[page error] ${err.message}\n`));
	const t1 = performance.now();
	await page.goto(pageURL, { timeout: timeoutMs });
	await page.waitForFunction(() => window.result !== undefined, null, { timeout: timeoutMs, polling: 50 });
	const result = await page.evaluate(() => window.result);
	out.scenarioMs = ms(t1);
	out.ok = result.ok === true;
	out.steps = result.steps || [];
	out.error = result.error || '';
	out.server = result.server;
	out.transport = result.transport;
	const up = out.steps.find((s) => s.name === 'webrtcup');
	out.webrtcupMs = up ? up.ms : 0;
	exitCode = out.ok ? 0 : 1;
} catch (err) {
	out.error = `run ${pageURL} in ${values.chromium}: ${err.message.split('\n')[0]}`;
	exitCode = 2;
} finally {
	if (browser) await browser.close().catch(() => {});
	out.totalMs = ms(t0);
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exitCode = exitCode;
