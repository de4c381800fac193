#!/usr/bin/env node
// run-janode.mjs drives Janus with Meetecho's janode over WebSockets, as a
// Node.js application server would, and prints one JSON line to stdout:
//
//	{"ok":true,"steps":[{"name":"connect","ok":true,"ms":4.1},...],"totalMs":180,"error":""}
//
// Each step's ms is how long it took; detail holds what it checked. janode
// has no WebRTC stack, so offers and answers are valid SDP written here: no
// media flows and ICE never completes, but every request and event of the
// signalling is real. The scenario:
//
//   - echotest: attach, start with an audio+video offer, get the answer;
//   - videoroom: create a room, a publisher joins and configures with an offer
//     (answer back) and is listed; a subscriber in a second session asks for
//     its feed and is refused with 428, since the publisher's PeerConnection
//     never comes up (see the step);
//   - textroom: setup gives a data channel offer, ack with an answer;
//   - admin API: list sessions (both of ours are there), list handles and get
//     the info of the echotest handle;
//   - then leave, destroy the room, detach, destroy the sessions.
//
// Usage: node run-janode.mjs --ws URL --admin-ws URL --admin-secret S [--timeout MS]
//
// It exits 1 when a step failed and 2 on bad usage. janode's own log goes to
// stderr (--janode-log=LEVEL sets its level; default warn).
import { parseArgs } from 'node:util';

// Keep stdout for the result line alone: janode logs with console.*.
console.log = console.info = console.debug = console.warn = console.error;

const { values } = parseArgs({
	strict: false, // janode reads --janode-log itself
	options: {
		ws: { type: 'string' },
		'admin-ws': { type: 'string' },
		'admin-secret': { type: 'string', default: '' },
		timeout: { type: 'string', default: '30000' },
		'janode-log': { type: 'string', default: 'warn' },
	},
});
if (!values.ws || !values['admin-ws']) {
	process.stderr.write('usage: node run-janode.mjs --ws URL --admin-ws URL --admin-secret S [--timeout MS]\n');
	process.exit(2);
}

const { default: Janode } = await import('janode');
const { default: EchoTestPlugin } = await import('janode/plugins/echotest');
const { default: VideoRoomPlugin } = await import('janode/plugins/videoroom');
const { default: TextRoomPlugin } = await import('janode/plugins/textroom');
Janode.Logger.setLevel(String(values['janode-log']));

// OFFER is the audio+video offer of replayer/janus.OfferSDP, the shape
// Chromium makes.
const FINGERPRINT = 'sha-256 8B:63:7A:4C:1E:51:8D:0E:32:7B:22:6F:DE:1F:74:3A:50:EF:1F:04:9A:3C:A8:7C:97:EB:9C:28:B4:19:5B:0D';
const OFFER = [
	'v=0',
	'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
	's=-',
	't=0 0',
	'a=group:BUNDLE 0 1',
	'a=msid-semantic: WMS stream',
	'm=audio 9 UDP/TLS/RTP/SAVPF 111',
	'c=IN IP4 0.0.0.0',
	'a=rtcp:9 IN IP4 0.0.0.0',
	'a=ice-ufrag:Abcd',
	'a=ice-pwd:abcdefghijklmnopqrstuvwx',
	'a=ice-options:trickle',
	'a=fingerprint:' + FINGERPRINT,
	'a=setup:actpass',
	'a=mid:0',
	'a=sendrecv',
	'a=msid:stream audio0',
	'a=rtcp-mux',
	'a=rtpmap:111 opus/48000/2',
	'a=fmtp:111 minptime=10;useinbandfec=1',
	'a=ssrc:1001 cname:tap',
	'm=video 9 UDP/TLS/RTP/SAVPF 96',
	'c=IN IP4 0.0.0.0',
	'a=rtcp:9 IN IP4 0.0.0.0',
	'a=ice-ufrag:Abcd',
	'a=ice-pwd:abcdefghijklmnopqrstuvwx',
	'a=ice-options:trickle',
	'a=fingerprint:' + FINGERPRINT,
	'a=setup:actpass',
	'a=mid:1',
	'a=sendrecv',
	'a=msid:stream video0',
	'a=rtcp-mux',
	'a=rtcp-rsize',
	'a=rtpmap:96 VP8/90000',
	'a=rtcp-fb:96 nack',
	'a=rtcp-fb:96 nack pli',
	'a=ssrc:2001 cname:tap',
	'',
].join('\r\n');

// answerFor writes an answer to offer: every m-line accepted with its first
// codec (or the data channel), the offer's mids, our ICE and DTLS details,
// and the direction that mirrors the offer's.
function answerFor(offer) {
	const [session, ...media] = offer.split(/\r?\nm=/);
	if (!session.startsWith('v=0')) throw new Error('offer is not SDP');
	const mids = [];
	const lines = ['v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', null, 'a=msid-semantic: WMS *'];
	for (const section of media) {
		const sl = section.split(/\r?\n/).filter(Boolean);
		const [kind, , proto, ...fmts] = sl[0].split(' ');
		const attr = (name) => sl.filter((l) => l.startsWith(`a=${name}`));
		const mid = (attr('mid:')[0] || '').slice('a=mid:'.length);
		if (mid === '') throw new Error(`offer m=${kind} has no mid`);
		mids.push(mid);
		const common = ['c=IN IP4 0.0.0.0', 'a=ice-ufrag:Wxyz', 'a=ice-pwd:zyxwvutsrqponmlkjihgfedc', 'a=ice-options:trickle',
			'a=fingerprint:' + FINGERPRINT, 'a=setup:active', `a=mid:${mid}`];
		if (kind === 'application') {
			const port = (attr('sctp-port:')[0] || 'a=sctp-port:5000').slice('a=sctp-port:'.length);
			lines.push(`m=application 9 ${proto} ${fmts.join(' ')}`, ...common, `a=sctp-port:${port}`);
			continue;
		}
		const pt = fmts.find((f) => !/ (rtx|red|ulpfec|flexfec-03)\//i.test(attr(`rtpmap:${f} `)[0] || '')) || fmts[0];
		const dir = { sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' }[
			['sendonly', 'recvonly', 'inactive', 'sendrecv'].find((d) => attr(d).length > 0)] || 'sendrecv';
		lines.push(`m=${kind} 9 ${proto} ${pt}`, ...common, 'a=rtcp:9 IN IP4 0.0.0.0', `a=${dir}`, 'a=rtcp-mux',
			...attr(`rtpmap:${pt} `), ...attr(`fmtp:${pt} `), ...attr(`rtcp-fb:${pt} `));
	}
	lines[4] = 'a=group:BUNDLE ' + mids.join(' ');
	return { type: 'answer', sdp: lines.join('\r\n') + '\r\n' };
}

const steps = [];
const t0 = performance.now();
const ms = (from) => Math.round((performance.now() - from) * 10) / 10;

// step runs fn(note) as a named step; note(detail) records what it saw.
async function step(name, fn) {
	const t = performance.now();
	const s = { name, ok: false, ms: 0 };
	steps.push(s);
	try {
		const v = await fn((detail) => { s.detail = detail; });
		s.ok = true;
		return v;
	} catch (err) {
		s.error = err && err.message ? err.message : String(err);
		throw new Error(`${name}: ${s.error}`);
	} finally {
		s.ms = ms(t);
	}
}

function check(cond, msg) {
	if (!cond) throw new Error(msg);
}

const randomRoom = () => 100000 + Math.floor(Math.random() * (1 << 30));

const open = []; // connections to close at the end

async function scenario() {
	const conn = await step('connect', async () => {
		const c = await Janode.connect({ address: { url: values.ws }, retry_time_secs: 1, max_retries: 1 });
		open.push(c);
		return c;
	});
	const info = await step('info', async (note) => {
		const i = await conn.getInfo();
		note({ version: i.version_string, plugins: Object.keys(i.plugins || {}).length });
		return i;
	});
	check(info.plugins && info.plugins['janus.plugin.echotest'], 'info: no echotest plugin');

	// Echotest.
	const session = await step('create', async (note) => {
		const s = await conn.create();
		note({ session: s.id });
		return s;
	});
	const echo = await step('echotest.attach', async (note) => {
		const h = await session.attach(EchoTestPlugin);
		note({ handle: h.id });
		return h;
	});
	await step('echotest.start', async (note) => {
		const r = await echo.start({ audio: true, video: true, bitrate: 256000, jsep: { type: 'offer', sdp: OFFER } });
		check(r.jsep && r.jsep.type === 'answer', `no answer: ${JSON.stringify(r)}`);
		check(/m=audio .*\r\n[\s\S]*m=video /.test(r.jsep.sdp), 'answer lacks audio or video');
		note({ result: r.result, jsep: r.jsep.type });
	});

	// Videoroom: a publisher and a subscriber in another session.
	const room = randomRoom();
	const pub = await step('videoroom.attach', async () => session.attach(VideoRoomPlugin));
	await step('videoroom.create', async (note) => {
		const r = await pub.create({ room, description: 'janustap janode', audiocodec: 'opus', videocodec: 'vp8' });
		note({ room: r.room });
	});
	const feed = await step('videoroom.publish', async (note) => {
		const r = await pub.joinConfigurePublisher({ room, display: 'janode', audio: true, video: true, jsep: { type: 'offer', sdp: OFFER } });
		check(r.jsep && r.jsep.type === 'answer', `no answer: ${JSON.stringify(r)}`);
		note({ feed: r.feed, jsep: r.jsep.type });
		return r.feed;
	});
	const subSession = await step('videoroom.subscriber-session', async (note) => {
		const s = await conn.create();
		note({ session: s.id });
		return s;
	});
	const sub = await step('videoroom.subscriber-attach', async () => subSession.attach(VideoRoomPlugin));
	await step('videoroom.listparticipants', async (note) => {
		const r = await pub.listParticipants({ room });
		const ids = (r.participants || []).map((p) => p.feed);
		check(ids.includes(feed), `participants ${JSON.stringify(ids)} lack feed ${feed}`);
		note({ participants: ids.length });
	});
	// Janus 1.1.2 offers a feed to subscribers only once the publisher's
	// PeerConnection is up (janus_videoroom.c checks session->started), which
	// a janode publisher with a written offer never gets: the subscriber is
	// refused with 428 "No such feed".
	await step('videoroom.subscribe', async (note) => {
		try {
			const r = await sub.joinSubscriber({ room, feed });
			throw new Error(`subscribed to a publisher without a PeerConnection: ${JSON.stringify(r)}`);
		} catch (err) {
			check(/^428 /.test(err.message), `want error 428 No such feed, got ${err.message}`);
			note({ refused: err.message });
		}
	});

	// Textroom: the data channel offer and our answer.
	const text = await step('textroom.attach', async () => session.attach(TextRoomPlugin));
	const textOffer = await step('textroom.setup', async (note) => {
		const r = await text.setup();
		check(r.jsep && r.jsep.type === 'offer', `no offer from Janus: ${JSON.stringify(r)}`);
		check(/m=application /.test(r.jsep.sdp), 'offer has no data channel');
		note({ jsep: r.jsep.type });
		return r.jsep;
	});
	await step('textroom.ack', async () => text.ack(answerFor(textOffer.sdp)));

	// Admin API on its own connection.
	const admin = await step('admin.connect', async () => {
		const c = await Janode.connect({
			is_admin: true,
			address: { url: values['admin-ws'], apisecret: values['admin-secret'] },
			retry_time_secs: 1,
			max_retries: 1,
		});
		open.push(c);
		return c;
	});
	await step('admin.list-sessions', async (note) => {
		const r = await admin.listSessions();
		const ids = r.sessions || [];
		check(ids.includes(session.id) && ids.includes(subSession.id), `sessions ${JSON.stringify(ids)} lack ${session.id} or ${subSession.id}`);
		note({ sessions: ids.length });
	});
	await step('admin.list-handles', async (note) => {
		const r = await admin.listHandles(session.id);
		const ids = r.handles || [];
		for (const h of [echo, pub, text]) check(ids.includes(h.id), `handles ${JSON.stringify(ids)} lack ${h.id}`);
		note({ handles: ids.length });
	});
	await step('admin.handle-info', async (note) => {
		const r = await admin.handleInfo(session.id, echo.id);
		const i = r.info || {};
		check(i.plugin === 'janus.plugin.echotest', `handle info names plugin ${JSON.stringify(i.plugin)}`);
		check(i.session_id === session.id && i.handle_id === echo.id, 'handle info names another session or handle');
		check(i.sdps && i.sdps.local && i.sdps.remote, 'handle info has no local and remote SDP');
		note({ plugin: i.plugin, ice_state: i.streams && i.streams[0] && i.streams[0].components && i.streams[0].components[0] && i.streams[0].components[0].state });
	});

	// Tear down as an application would.
	await step('videoroom.leave', async () => pub.leave()); // unpublish needs a PeerConnection too (435)
	await step('videoroom.destroy', async () => pub.destroy({ room }));
	for (const [name, h] of [['echotest', echo], ['videoroom', pub], ['videoroom.subscriber', sub], ['textroom', text]]) {
		await step(name + '.detach', async () => h.detach());
	}
	await step('destroy', async () => {
		await subSession.destroy();
		await session.destroy();
	});
}

const out = { ok: false, steps, totalMs: 0, error: '' };
let timer;
try {
	const timeoutMs = Number(values.timeout);
	await Promise.race([
		scenario(),
		new Promise((_, reject) => {
			timer = setTimeout(() => {
				const last = steps[steps.length - 1];
				reject(new Error(`timeout after ${timeoutMs} ms${last ? ' in step ' + last.name : ''}`));
			}, timeoutMs);
		}),
	]);
	out.ok = true;
} catch (err) {
	out.error = err && err.message ? err.message : String(err);
} finally {
	clearTimeout(timer);
	for (const c of open) await c.close().catch(() => {});
	out.totalMs = ms(t0);
}
process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(out.ok ? 0 : 1));
