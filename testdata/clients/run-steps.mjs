#!/usr/bin/env node
// run-steps.mjs drives Debian's Chromium, headless, through playwright-core,
// along a list of steps read from a JSON file, and prints one JSON line to
// stdout:
//
//	{"ok":true,"values":{"rows":42},"console":["error: ..."],"error":""}
//
// A step is one of:
//
//	{"do":"goto","url":"http://..."}           open a page (console errors are kept from here on)
//	{"do":"wait","selector":"#ladder[data-ready]"}
//	{"do":"waitFn","js":"document.title !== ''"}
//	{"do":"click","selector":"#m5"}
//	{"do":"press","key":"ArrowDown"}           on the focused element
//	{"do":"eval","name":"rows","js":"document.querySelectorAll('.lrow').length"}
//	{"do":"screenshot","path":"/tmp/x.png","fullPage":false}
//	{"do":"fill","selector":"#username","text":"alice"}
//	{"do":"close"}                              close the page (and its context)
//
// A step acts on page 0 unless it names another ("page":1): each page is
// opened in a browser context of its own (as two people on two machines),
// when a step first names it. The camera and microphone are Chromium's fake
// devices, granted without a prompt.
//
// console lists the page's console errors and uncaught exceptions, and the
// responses with a status of 400 or more. It exits 1 when a step failed and
// 2 when the browser could not run.
//
// Usage: node run-steps.mjs [--timeout MS] [--chromium PATH] STEPS.json
//
// Nothing is downloaded: the browser is /usr/bin/chromium.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

console.log = console.info = console.debug = console.error;

const { values, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		timeout: { type: 'string', default: '60000' },
		chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
	},
});
if (positionals.length !== 1) {
	process.stderr.write('usage: node run-steps.mjs [--timeout MS] [--chromium PATH] STEPS.json\n');
	process.exit(2);
}
const { steps, width, height } = JSON.parse(readFileSync(positionals[0], 'utf8'));
const timeout = Number(values.timeout);
const out = { ok: false, values: {}, console: [], error: '', step: -1 };
let browser;
let exitCode = 2;
try {
	browser = await chromium.launch({
		executablePath: values.chromium,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync', '--disable-quic',
			'--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
		timeout,
	});
	const pages = [];
	const pageOf = async (i) => {
		if (pages[i]) return pages[i];
		const ctx = await browser.newContext({ viewport: { width: width || 1400, height: height || 900 } });
		const page = await ctx.newPage();
		page.setDefaultTimeout(timeout);
		const tag = i ? `page ${i} ` : 'page ';
		page.on('console', (m) => {
			process.stderr.write(`[${tag}${m.type()}] ${m.text()}\n`);
			if (m.type() === 'error') out.console.push(`console error: ${m.text()}`);
		});
		page.on('pageerror', (err) => out.console.push(`uncaught: ${err.message}`));
		page.on('response', (r) => { if (r.status() >= 400) out.console.push(`HTTP ${r.status()} ${r.url()}`); });
		pages[i] = page;
		return page;
	};
	exitCode = 1;
	for (const [i, s] of steps.entries()) {
		out.step = i;
		const page = await pageOf(s.page || 0);
		switch (s.do) {
			case 'goto': await page.goto(s.url); break;
			case 'wait': await page.waitForSelector(s.selector, { state: s.state || 'visible' }); break;
			case 'waitFn': {
				// Polled with evaluate (the DevTools protocol), not
				// waitForFunction, which compiles the string in the page and
				// so needs a Content-Security-Policy allowing eval.
				const until = Date.now() + timeout;
				// A page that navigates (a reload) has no context for a
				// moment: ask again.
				const test = () => page.evaluate(s.js).catch((err) => {
					if (/context was destroyed|navigation/i.test(err.message)) return false;
					throw err;
				});
				while (!(await test())) {
					if (Date.now() > until) throw new Error(`timeout waiting for ${s.js}`);
					await new Promise((r) => setTimeout(r, 20));
				}
				break;
			}
			case 'click': await page.click(s.selector); break;
			case 'press': await page.keyboard.press(s.key); break;
			case 'fill': await page.fill(s.selector, s.text); break;
			case 'close': await page.context().close(); pages[s.page || 0] = undefined; break;
			case 'eval': out.values[s.name] = await page.evaluate(s.js); break;
			case 'screenshot': await page.screenshot({ path: s.path, fullPage: !!s.fullPage }); break;
			default: throw new Error(`unknown step ${JSON.stringify(s)}`);
		}
	}
	out.ok = true;
	out.step = -1;
	exitCode = 0;
} catch (err) {
	out.error = `step ${out.step}: ${err.message.split('\n')[0]}`;
} finally {
	if (browser) await browser.close().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exitCode = exitCode;
