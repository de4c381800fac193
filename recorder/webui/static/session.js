// session.js draws a session's ladder from /api/s/GATEWAY/ID, shows a
// message's body on selection, and follows new events over /live.
"use strict";
(function () {
  const root = document.getElementById("session");
  const gw = root.dataset.gateway, sid = root.dataset.id;
  const ladder = document.getElementById("ladder");
  const detail = document.getElementById("detail");
  const unfoldBox = document.getElementById("unfold");
  let data = null;        // the ladder as the server sent it
  let visible = [];       // what is drawn: {row} or {fold: [rows]}
  let unfolded = new Set(); // first message numbers of fold groups opened
  let sel = -1;           // index in visible of the selected line
  let timeMode = "rel";
  // ?embed=1 shows the ladder alone (the compare page's frames); ?mark=1,5
  // marks those messages (the differences the compare page lists).
  const params = new URLSearchParams(location.search);
  if (params.get("embed")) document.body.classList.add("embed");
  const marks = new Set((params.get("mark") || "").split(",").filter(x => x).map(Number));

  function esc(s) {
    return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function pad(n, w) { return String(n).padStart(w, "0"); }
  function fmtAbs(us) {
    const d = new Date(Math.floor(us / 1000));
    return pad(d.getUTCHours(), 2) + ":" + pad(d.getUTCMinutes(), 2) + ":" + pad(d.getUTCSeconds(), 2) + "." + pad(Math.floor(us / 1000) % 1000, 3);
  }
  function fmtDur(us) {
    const a = Math.abs(us);
    if (a < 1000) return us + "µs";
    if (a < 1e6) return (us / 1000).toFixed(2) + "ms";
    if (a < 6e7) return (us / 1e6).toFixed(3) + "s";
    return (us / 6e7).toFixed(1) + "min";
  }

  // layout groups consecutive foldable rows unless unfolded.
  function layout() {
    visible = [];
    const rows = data.rows;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!r.fold || unfoldBox.checked) { visible.push({ row: r }); continue; }
      let j = i;
      while (j < rows.length && rows[j].fold) j++;
      const group = rows.slice(i, j);
      if (unfolded.has(group[0].n)) group.forEach(g => visible.push({ row: g }));
      else visible.push({ fold: group });
      i = j - 1;
    }
  }

  function timeOf(i) {
    const item = visible[i], r = item.row || item.fold[0];
    if (timeMode === "abs") return fmtAbs(r.t);
    if (timeMode === "rel") return "+" + fmtDur(r.t - data.rows[0].t);
    if (i === 0) return "+0";
    const p = visible[i - 1], pr = p.row || p.fold[p.fold.length - 1];
    return "+" + fmtDur(r.t - pr.t);
  }

  function arrowHTML(r, lanes) {
    const a = Math.min(r.from, r.to), b = Math.max(r.from, r.to);
    const left = (a + 0.5) / lanes * 100, width = Math.max(b - a, 0.15) / lanes * 100;
    const cls = r.from === r.to ? "self" : (r.to > r.from ? "r" : "l");
    return '<div class="arrow ' + cls + '" style="left:' + left.toFixed(3) + '%;width:' + width.toFixed(3) + '%"><span class="lbl">' + esc(r.label) + "</span></div>";
  }

  // The ladder draws only the lines in view (and a margin): a session of
  // 10 000 messages costs what one screen does.
  const ROW = 26, MARGIN = 30;
  let body = null, hdrH = 0, painted = [-1, -1], selRQ = 0;

  function draw() {
    const lanes = data.lanes.length;
    const out = ['<div class="lrow hdr" style="--lanes:' + lanes + '"><span class="n">#</span><span class="t">time</span><div class="lanes">'];
    for (const l of data.lanes) out.push('<span class="' + l.kind + '" title="' + esc(l.label) + '">' + esc(l.label) + "</span>");
    out.push('</div><span class="lat">latency · note</span></div><div class="lbody" style="height:' + (visible.length * ROW) + 'px"></div>');
    ladder.innerHTML = out.join("");
    body = ladder.querySelector(".lbody");
    hdrH = ladder.querySelector(".hdr").offsetHeight;
    ladder.dataset.visible = String(visible.length);
    paint(true);
  }

  function lineHTML(i, lanes) {
    const item = visible[i];
    const pos = 'style="--lanes:' + lanes + ";top:" + (i * ROW) + 'px"';
    if (item.fold) {
      const k = item.fold.filter(r => r.fold === "keepalive" && r.dir === "c2g").length;
      const p = item.fold.filter(r => r.fold === "poll" && r.kind === "request").length;
      const st = item.fold.filter(r => r.fold === "stats").length;
      const parts = [];
      if (k) parts.push(k + " keepalive" + (k > 1 ? "s" : ""));
      if (p) parts.push(p + " long-poll" + (p > 1 ? "s" : ""));
      if (st) parts.push(st + " media statistics");
      if (!parts.length) parts.push(item.fold.length + " messages");
      return '<div class="lrow fold' + (i === sel ? " sel" : "") + '" data-i="' + i + '" id="f' + item.fold[0].n + '" ' + pos + '><span class="n">' + item.fold[0].n + '…</span><span class="t">' + timeOf(i) +
        '</span><div class="lanes">⋯ ' + parts.join(", ") + " folded (" + item.fold.length + (item.fold.length > 1 ? " messages" : " message") + '; Enter or click to show)</div><span class="lat"></span></div>';
    }
    const r = item.row;
    const cls = ["lrow", r.dir];
    if (r.err) cls.push("err");
    if (marks.has(r.n)) cls.push("diff");
    if (r.kind === "failure") cls.push("fail");
    if (r.tr === "evh") cls.push("evh");
    if (i === sel) cls.push("sel");
    else if (selRQ && r.rq === selRQ) cls.push("intx");
    let lat = "";
    if (r.since) lat = "+" + fmtDur(r.since);
    if (r.note) lat += (lat ? " · " : "") + esc(r.note);
    return '<div class="' + cls.join(" ") + '" data-i="' + i + '" id="m' + r.n + '" ' + pos + ' title="' + esc(r.kind + " " + r.tr + (r.tx ? " tx=" + r.tx : "") + (r.h ? " handle " + r.h : "")) + '"><span class="n">' + r.n +
      '</span><span class="t">' + timeOf(i) + '</span><div class="lanes">' + arrowHTML(r, lanes) + '</div><span class="lat">' + lat + "</span></div>";
  }

  function paint(force) {
    if (!body) return;
    const first = Math.max(0, Math.floor((ladder.scrollTop - hdrH) / ROW) - MARGIN);
    const last = Math.min(visible.length, Math.ceil((ladder.scrollTop + ladder.clientHeight) / ROW) + MARGIN);
    if (!force && first === painted[0] && last === painted[1]) return;
    painted = [first, last];
    const lanes = data.lanes.length, out = [];
    for (let i = first; i < last; i++) out.push(lineHTML(i, lanes));
    body.innerHTML = out.join("");
  }
  let pending = false;
  ladder.addEventListener("scroll", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; paint(false); });
  });

  function lineEl(i) { return ladder.querySelector('[data-i="' + i + '"]'); }

  // mark highlights the selection and every message of its transaction.
  function mark() {
    const item = visible[sel];
    selRQ = item && item.row ? item.row.rq || 0 : 0;
    paint(true);
  }

  function scrollTo(i) {
    const top = hdrH + i * ROW, view = ladder.clientHeight;
    if (top - hdrH < ladder.scrollTop) ladder.scrollTop = top - hdrH;
    else if (top + ROW > ladder.scrollTop + view) ladder.scrollTop = top + ROW - view;
  }

  function select(i, scroll) {
    if (!visible.length) return;
    sel = Math.max(0, Math.min(visible.length - 1, i));
    if (scroll) scrollTo(sel);
    mark();
    const item = visible[sel];
    if (item.row) {
      history.replaceState(null, "", "#m" + item.row.n);
      showDetail(item.row);
    } else {
      detail.innerHTML = '<p class="hint">' + item.fold.length + " folded messages: press Enter or click to show them.</p>";
    }
  }

  function unfold(i) {
    const item = visible[i];
    if (!item || !item.fold) return;
    const first = item.fold[0].n;
    unfolded.add(first);
    layout(); draw();
    select(visible.findIndex(v => v.row && v.row.n === first), true);
  }

  // txSummary lists the messages of the selected row's transaction with
  // their latencies.
  function txSummary(r) {
    if (!r.rq) return "";
    const members = data.rows.filter(x => x.rq === r.rq);
    if (members.length < 2) return "";
    const lines = members.map(m => '<a href="#m' + m.n + '">#' + m.n + "</a> " + esc(m.label) + (m.since ? " +" + fmtDur(m.since) : " (request)"));
    return "<h3>transaction " + esc(r.tx || "") + "</h3><div class=\"meta\">" + lines.join("<br>") + "</div>";
  }

  let detailSeq = 0;
  async function showDetail(r) {
    detailSeq = r.seq;
    detail.innerHTML = "<h2>#" + r.n + " " + esc(r.label) + '</h2><p class="meta">' + esc(fmtAbs(r.t)) + " UTC · " + esc(r.dir + " " + r.tr + " " + r.kind) +
      (r.tx ? " · tx " + esc(r.tx) : "") + (r.h ? " · handle " + r.h : "") + "<br>event " + esc(r.id) + ' · <a href="#m' + r.n + '">permalink</a></p>' +
      (r.note ? '<p class="bad">' + esc(r.note) + "</p>" : "") + txSummary(r) + '<p class="hint">loading…</p>';
    let ev;
    try {
      const resp = await fetch("/api/event/" + r.seq);
      if (!resp.ok) throw new Error(await resp.text());
      ev = await resp.json();
    } catch (e) {
      if (detailSeq === r.seq) detail.querySelector(".hint").textContent = "could not load the body: " + e.message;
      return;
    }
    if (detailSeq !== r.seq) return;
    const parts = [];
    if (ev.json) parts.push("<h3>body</h3><pre class=\"json\">" + esc(JSON.stringify(ev.json, null, 2)) + "</pre>");
    else if (ev.body) parts.push("<h3>body</h3><pre>" + esc(ev.body) + "</pre>");
    else parts.push('<p class="hint">no body</p>');
    if (ev.sdp) {
      parts.push("<h3>SDP (" + esc(ev.jsep_type) + ") by media section</h3>");
      if (ev.janus_sdp) {
        // The client's description beside Janus's own view of it, section by section.
        const n = Math.max(ev.sdp.length, ev.janus_sdp.length);
        parts.push('<div class="sdppair"><div class="sdpcol"><h4>as on the wire</h4></div><div class="sdpcol"><h4>Janus\'s ' + esc(ev.janus_sdp_owner) + " SDP (its event handler)</h4></div></div>");
        for (let i = 0; i < n; i++) {
          const a = ev.sdp[i], b = ev.janus_sdp[i];
          parts.push('<div class="sdppair">' +
            '<details class="sdp" open><summary>' + esc(a ? a.title : "—") + "</summary><pre>" + esc(a ? a.lines : "") + "</pre></details>" +
            '<details class="sdp janus" open><summary>' + esc(b ? b.title : "—") + "</summary><pre>" + esc(b ? b.lines : "") + "</pre></details></div>");
        }
      } else {
        for (const s of ev.sdp) parts.push('<details class="sdp" open><summary>' + esc(s.title) + "</summary><pre>" + esc(s.lines) + "</pre></details>");
      }
    }
    parts.push("<details><summary>event</summary><pre>" + esc(JSON.stringify(ev.event, null, 2)) + "</pre></details>");
    detail.querySelector(".hint").outerHTML = parts.join("");
  }

  function selectN(n) {
    let i = visible.findIndex(v => v.row && v.row.n === n);
    if (i < 0) {
      const f = visible.findIndex(v => v.fold && v.fold.some(r => r.n === n));
      if (f < 0) return;
      unfolded.add(visible[f].fold[0].n);
      layout(); draw();
      i = visible.findIndex(v => v.row && v.row.n === n);
    }
    select(i, true);
  }

  function fromHash() {
    const m = /^#m(\d+)$/.exec(location.hash);
    if (m) selectN(Number(m[1]));
  }

  ladder.addEventListener("click", e => {
    const el = e.target.closest("[data-i]");
    if (!el) return;
    const i = Number(el.dataset.i);
    ladder.focus({ preventScroll: true });
    if (visible[i].fold) unfold(i); else select(i, false);
  });
  ladder.addEventListener("keydown", e => {
    const page = Math.max(1, Math.floor(ladder.clientHeight / 26) - 2);
    let i = null;
    switch (e.key) {
      case "ArrowDown": case "j": i = sel + 1; break;
      case "ArrowUp": case "k": i = Math.max(0, sel - 1); break;
      case "PageDown": i = sel + page; break;
      case "PageUp": i = Math.max(0, sel - page); break;
      case "Home": i = 0; break;
      case "End": i = visible.length - 1; break;
      case "Enter": if (visible[sel] && visible[sel].fold) { unfold(sel); e.preventDefault(); } return;
      case "t": cycleTime(); return;
      default: return;
    }
    e.preventDefault();
    select(i, true);
  });
  window.addEventListener("hashchange", fromHash);
  document.getElementById("verdict").addEventListener("click", e => {
    const a = e.target.closest("a[data-n]");
    if (!a) return;
    e.preventDefault();
    selectN(Number(a.dataset.n));
    ladder.focus({ preventScroll: true });
  });
  unfoldBox.addEventListener("change", () => {
    const cur = visible[sel] && visible[sel].row;
    layout(); draw();
    if (cur) selectN(cur.n);
  });
  const timeButtons = document.querySelectorAll("[data-time]");
  function setTime(mode) {
    timeMode = mode;
    timeButtons.forEach(b => b.setAttribute("aria-pressed", String(b.dataset.time === mode)));
    if (data) { draw(); }
  }
  function cycleTime() { setTime({ abs: "rel", rel: "delta", delta: "abs" }[timeMode]); }
  timeButtons.forEach(b => b.addEventListener("click", () => setTime(b.dataset.time)));

  // drawVerdict writes the verdict banner, its evidence linked to the
  // ladder's messages.
  function drawVerdict(v) {
    const el = document.getElementById("verdict");
    el.classList.toggle("v-bad", v.findings.length > 0);
    el.classList.toggle("v-good", v.findings.length === 0);
    if (!v.findings.length) { el.innerHTML = "<strong>" + esc(v.summary) + "</strong>"; return; }
    el.innerHTML = v.findings.map(f => '<div class="finding"><span class="rule ' + esc(f.severity) + '">' + esc(f.rule) + '</span> <span class="cause">' + esc(f.cause) + "</span>" +
      (f.detail ? '<div class="why">' + esc(f.detail) + "</div>" : "") + '<div class="evidence">' +
      f.evidence.map(e => e.n ? '<a href="#m' + e.n + '" data-n="' + e.n + '" title="' + esc(e.what) + '">#' + e.n + "</a>" : '<span title="' + esc(e.what) + '">' + esc(e.event_id) + "</span>").join(" ") +
      "</div></div>").join("");
  }

  async function load() {
    const t0 = performance.now();
    const resp = await fetch("/api/s/" + encodeURIComponent(gw) + "/" + sid);
    if (!resp.ok) { ladder.textContent = "could not load the session: " + (await resp.text()); return false; }
    const next = await resp.json();
    const keep = sel >= 0 && visible[sel] && visible[sel].row ? visible[sel].row.n : 0;
    const grew = !data || next.last_seq !== data.last_seq;
    data = next;
    if (grew) drawVerdict(data.verdict);
    if (grew) {
      layout(); draw();
      if (keep) { const i = visible.findIndex(v => v.row && v.row.n === keep); if (i >= 0) { sel = i; mark(); } }
    }
    ladder.dataset.rendered = String(data.rows.length);
    ladder.dataset.renderMs = (performance.now() - t0).toFixed(1);
    return grew;
  }

  // Live: the log tells of new events; fetch the ladder again once the
  // store has them (it may lag the log a little).
  function follow() {
    if (!window.EventSource) return;
    const handles = data.lanes.filter(l => l.kind === "plugin").map(l => l.id.slice(2)).join(",");
    const es = new EventSource("/live?gateway=" + encodeURIComponent(gw) + "&session=" + sid + "&handles=" + handles);
    const liveEl = document.getElementById("live");
    let timer = null, tries = 0;
    es.addEventListener("hello", e => { if (JSON.parse(e.data).live) liveEl.textContent = "● live"; });
    es.addEventListener("event", e => {
      const n = JSON.parse(e.data);
      tries = 0;
      clearTimeout(timer);
      const again = async () => {
        const grew = await load();
        if (!data.rows.some(r => r.id === n.id) && ++tries < 8) timer = setTimeout(again, 400);
        else if (grew) liveEl.textContent = "● live · " + data.rows.length + " messages";
      };
      timer = setTimeout(again, 250);
    });
    es.onerror = () => { liveEl.textContent = ""; };
  }

  load().then(ok => {
    if (!ok) return;
    if (location.hash) fromHash(); else if (visible.length) { sel = 0; mark(); }
    ladder.focus({ preventScroll: true });
    ladder.dataset.readyAt = performance.now().toFixed(1); // ms since navigation began
    ladder.dataset.ready = "1";
    follow();
  });
})();
