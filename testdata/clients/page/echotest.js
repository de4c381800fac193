// echotest.js runs the Janus echotest with janus.js 1.1.2 as a user of the
// demo page would, and checks what a user would see: the PeerConnection comes
// up, Janus reports media, audio and video come back, the data channel
// echoes, a mid-call change is acknowledged, and hanging up, detaching and
// destroying the session all succeed.
//
// Each step records when it happened (performance.now(), in ms since the page
// started loading). The outcome is window.result = {ok, steps, error, server,
// transport}, which run-browser.mjs waits for.
'use strict';

(function () {
	const params = new URLSearchParams(location.search);
	const server = params.get('server') || '';
	const timeoutMs = Number(params.get('timeout')) || 30000;
	const debug = params.has('debug');

	const steps = [];
	let pending = 'start'; // what the scenario waits for now, for the timeout message
	let finished = false;
	let destroying = false;

	function now() { return Math.round(performance.now() * 10) / 10; }

	function log(msg) {
		console.log('[echotest] ' + msg);
		document.getElementById('log').textContent += msg + '\n';
	}

	function step(name, at, detail) {
		const s = { name: name, ms: at === undefined ? now() : at };
		if (detail !== undefined) s.detail = detail;
		steps.push(s);
		log(s.ms + ' ms: ' + name + (detail !== undefined ? ' ' + JSON.stringify(detail) : ''));
	}

	function finish(err) {
		if (finished) return;
		finished = true;
		steps.sort((a, b) => a.ms - b.ms);
		window.result = {
			ok: !err,
			steps: steps,
			error: err ? String(err && err.message ? err.message : err) : '',
			server: server,
			transport: server.startsWith('ws') ? 'ws' : 'http',
		};
		log(err ? 'FAILED: ' + window.result.error : 'OK');
	}

	// signal is a one-shot event that remembers when it happened.
	function signal() {
		const s = {};
		s.promise = new Promise((resolve, reject) => {
			s.resolve = (v) => { if (s.at === undefined) { s.at = now(); resolve(v); } };
			s.reject = reject;
		});
		return s;
	}

	const failure = signal(); // rejected by any error callback
	failure.promise.catch(() => {});
	function fail(what, err) {
		if (destroying && what === 'gateway') return;
		failure.reject(new Error(what + ': ' + (typeof err === 'string' ? err : JSON.stringify(err))));
	}

	// wait waits for promise (or fails first) and names the step for the timeout.
	async function wait(name, promise) {
		pending = name;
		return Promise.race([promise, failure.promise]);
	}

	// Plugin messages (onmessage) wait in an inbox until a step takes them.
	const inbox = [];
	let takers = [];
	function nextMessage(pred) {
		return new Promise((resolve) => {
			const take = () => {
				const i = inbox.findIndex(pred);
				if (i < 0) return false;
				resolve(inbox.splice(i, 1)[0]);
				return true;
			};
			if (!take()) takers.push(take);
		});
	}

	const webrtcUp = signal();
	const webrtcDown = signal();
	const iceConnected = signal();
	const media = { audio: signal(), video: signal() };
	const remoteTrack = { audio: signal(), video: signal() };
	const dataOpen = signal();
	const cleanup = signal();
	const received = []; // data channel messages
	let dataTakers = [];

	const token = 'janustap-' + Math.random().toString(36).slice(2);

	async function run() {
		if (!server) throw new Error('no ?server= in the page URL');

		await wait('init', new Promise((resolve) => Janus.init({
			debug: debug ? 'all' : ['warn', 'error'],
			callback: resolve,
		})));
		step('init');
		if (!Janus.isWebrtcSupported()) throw new Error('janus.js says WebRTC is not supported');

		const created = signal();
		const destroyed = signal();
		const janus = new Janus({
			server: server,
			iceServers: [], // loopback only: host candidates are enough
			success: () => created.resolve(),
			error: (err) => fail('gateway', err),
			destroyed: () => destroyed.resolve(),
		});
		await wait('session', created.promise);
		step('session', created.at, { id: janus.getSessionId() });

		const attached = signal();
		janus.attach({
			plugin: 'janus.plugin.echotest',
			opaqueId: 'janustap-echotest-' + Janus.randomString(8),
			success: (handle) => attached.resolve(handle),
			error: (err) => fail('attach', err),
			iceState: (state) => {
				log('ice state ' + state);
				if (state === 'connected' || state === 'completed') iceConnected.resolve(state);
				if (state === 'failed') fail('ice', 'ICE failed');
			},
			webrtcState: (on, reason) => {
				log('webrtc ' + (on ? 'up' : 'down') + (reason ? ' (' + reason + ')' : ''));
				if (on) webrtcUp.resolve(); else webrtcDown.resolve(reason || '');
			},
			mediaState: (type, receiving, mid) => {
				log('janus media ' + type + ' mid=' + mid + ' receiving=' + receiving);
				if (receiving && media[type]) media[type].resolve(mid);
			},
			slowLink: (uplink, lost, mid) => log('slow link uplink=' + uplink + ' lost=' + lost + ' mid=' + mid),
			onmessage: (msg, jsep) => {
				log('message ' + JSON.stringify(msg) + (jsep ? ' with ' + jsep.type : ''));
				if (msg && msg.error) fail('echotest', msg.error_code + ' ' + msg.error);
				inbox.push({ msg: msg, jsep: jsep });
				takers = takers.filter((take) => !take());
			},
			onlocaltrack: (track, on) => log('local ' + track.kind + ' track ' + (on ? 'added' : 'removed')),
			onremotetrack: (track, mid, on) => {
				log('remote ' + track.kind + ' track mid=' + mid + ' ' + (on ? 'added' : 'removed'));
				if (on && remoteTrack[track.kind]) remoteTrack[track.kind].resolve(mid);
				if (on && track.kind === 'video') {
					const v = document.getElementById('remote');
					v.srcObject = new MediaStream([track]);
				}
			},
			ondataopen: (label) => dataOpen.resolve(label),
			ondata: (data) => {
				received.push({ data: data, at: now() });
				dataTakers = dataTakers.filter((take) => !take());
			},
			oncleanup: () => cleanup.resolve(),
		});
		const echo = await wait('attach', attached.promise);
		step('attach', attached.at, { id: echo.getId() });

		// Offer audio, video (Chromium's fake devices) and a data channel.
		const offered = signal();
		echo.createOffer({
			tracks: [
				{ type: 'audio', capture: true, recv: true },
				{ type: 'video', capture: true, recv: true },
				{ type: 'data' },
			],
			success: (jsep) => offered.resolve(jsep),
			error: (err) => fail('create offer', err && err.message ? err.message : err),
		});
		const offer = await wait('offer', offered.promise);
		step('offer', offered.at);

		const answered = nextMessage((m) => m.jsep && m.jsep.type === 'answer');
		const sent = signal();
		echo.send({
			message: { audio: true, video: true },
			jsep: offer,
			success: () => sent.resolve(),
			error: (err) => fail('send offer', err),
		});
		const { msg, jsep } = await wait('answer', answered);
		step('answer', now(), { result: msg.result });

		const handled = signal();
		echo.handleRemoteJsep({
			jsep: jsep,
			success: () => handled.resolve(),
			error: (err) => fail('handle remote jsep', err && err.message ? err.message : err),
		});
		await wait('remote description', handled.promise);
		step('remote-description', handled.at);

		await wait('ice connected', iceConnected.promise);
		step('ice-connected', iceConnected.at);
		await wait('webrtcup', webrtcUp.promise);
		step('webrtcup', webrtcUp.at);
		for (const kind of ['audio', 'video']) {
			const mid = await wait('janus media event for ' + kind, media[kind].promise);
			step('media-' + kind, media[kind].at, { mid: mid });
		}
		for (const kind of ['audio', 'video']) {
			const mid = await wait('remote ' + kind + ' track', remoteTrack[kind].promise);
			step('remote-track-' + kind, remoteTrack[kind].at, { mid: mid });
		}

		// What came back over RTP, as getStats sees it.
		const inbound = await wait('inbound audio and video RTP', inboundRTP(echo));
		step('inbound-audio', inbound.audio.at, { bytesReceived: inbound.audio.bytes });
		step('inbound-video', inbound.video.at, { bytesReceived: inbound.video.bytes, framesDecoded: inbound.video.frames });
		if (inbound.pair) step('candidate-pair', inbound.pair.at, inbound.pair.detail);

		// The echotest sends data channel text back with a prefix.
		const label = await wait('data channel open', dataOpen.promise);
		step('data-open', dataOpen.at, { label: label });
		const echoed = new Promise((resolve) => {
			const take = () => {
				const r = received.find((r) => String(r.data).includes(token));
				if (r) resolve(r);
				return !!r;
			};
			if (!take()) dataTakers.push(take);
		});
		echo.data({ text: token, error: (err) => fail('send data', err) });
		const reply = await wait('data channel echo', echoed);
		step('data-echo', reply.at, { sent: token, received: String(reply.data) });

		// A mid-call change, as the demo's bitrate menu makes.
		const reconfigured = nextMessage((m) => m.msg && m.msg.result === 'ok' && !m.jsep);
		echo.send({ message: { bitrate: 128000 }, error: (err) => fail('send bitrate', err) });
		await wait('bitrate change acknowledged', reconfigured);
		step('reconfigure', now(), { bitrate: 128000 });

		echo.hangup(true);
		await wait('hangup (oncleanup)', cleanup.promise);
		step('hangup', cleanup.at);
		await wait('hangup event (webrtcState false)', webrtcDown.promise);
		step('hangup-event', webrtcDown.at, { reason: await webrtcDown.promise });

		const detached = signal();
		echo.detach({ success: () => detached.resolve(), error: (err) => fail('detach', err) });
		await wait('detach', detached.promise);
		step('detach', detached.at);

		destroying = true;
		const gone = signal();
		janus.destroy({ success: () => gone.resolve(), error: (err) => fail('destroy', err) });
		await wait('destroy', Promise.all([gone.promise, destroyed.promise]));
		step('destroy', Math.max(gone.at, destroyed.at));
	}

	// inboundRTP polls getStats until audio has bytes and video has decoded
	// frames, and says when it first saw each and which candidate pair ICE chose.
	async function inboundRTP(handle) {
		const seen = {};
		for (;;) {
			const pc = handle.webrtcStuff && handle.webrtcStuff.pc;
			if (!pc) throw new Error('no PeerConnection while waiting for inbound RTP');
			const stats = await pc.getStats();
			stats.forEach((r) => {
				if (r.type === 'transport' && r.selectedCandidatePairId && !seen.pair) {
					const pair = stats.get(r.selectedCandidatePairId);
					const local = pair && stats.get(pair.localCandidateId);
					const remote = pair && stats.get(pair.remoteCandidateId);
					if (local && remote) {
						const c = (x) => x.candidateType + ' ' + x.protocol + ' ' + x.address + ':' + x.port;
						seen.pair = { at: now(), detail: { local: c(local), remote: c(remote) } };
					}
				}
				if (r.type !== 'inbound-rtp') return;
				const kind = r.kind || r.mediaType;
				if (kind === 'audio' && r.bytesReceived > 0 && !seen.audio) {
					seen.audio = { at: now(), bytes: r.bytesReceived };
				}
				if (kind === 'video' && r.bytesReceived > 0 && r.framesDecoded > 0 && !seen.video) {
					seen.video = { at: now(), bytes: r.bytesReceived, frames: r.framesDecoded };
				}
			});
			if (seen.audio && seen.video) return seen;
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}

	const timer = setTimeout(() => finish(new Error('timeout after ' + timeoutMs + ' ms waiting for ' + pending)), timeoutMs);
	run().then(() => finish(null), (err) => finish(err)).finally(() => clearTimeout(timer));
})();
