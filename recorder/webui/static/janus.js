// janus.js draws Janus's own account of the session's handles (from its
// event handler, /api/s/GATEWAY/ID/janus) under the ladder: ICE states, the
// candidates and the selected pair, DTLS, webrtcup or hangup, the mids
// receiving, slow links, and per mid sparklines of rtt, loss and bitrate.
"use strict";
(function () {
  const root = document.getElementById("session");
  const view = document.getElementById("janusview");
  if (!root || !view) return;
  const gw = root.dataset.gateway, sid = root.dataset.id;

  function esc(s) {
    return String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function states(list) {
    if (!list.length) return '<span class="hint">none reported</span>';
    return list.map(s => '<span class="state state-' + esc(s) + '">' + esc(s) + "</span>").join(" → ");
  }
  // spark draws values (numbers, -1 meaning not reported) as an SVG line.
  function spark(label, values, unit) {
    const v = values.filter(x => x >= 0);
    if (!v.length) return "";
    const w = 160, h = 28, top = Math.max(...v), max = Math.max(top, 1);
    const pts = values.map((x, i) => x < 0 ? null : [values.length > 1 ? i * w / (values.length - 1) : w / 2, h - 2 - (x / max) * (h - 4)])
      .filter(p => p).map(p => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
    const last = v[v.length - 1];
    return '<div class="spark"><span class="sl">' + esc(label) + '</span><svg width="' + w + '" height="' + h +
      '" viewBox="0 0 ' + w + " " + h + '" role="img" aria-label="' + esc(label + ", last " + last + " " + unit + ", max " + top) +
      '"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="' + pts + '"/></svg><span class="sv">' +
      esc(last + " " + unit) + ' <small>max ' + esc(top) + "</small></span></div>";
  }

  function draw(d) {
    if (!d.handles.length) { view.hidden = true; return; }
    view.hidden = false;
    let html = "<h2>Janus's view <small>from its event handler</small></h2>";
    for (const h of d.handles) {
      const cands = d.candidates.filter(c => c.handle_id === h.id);
      const stats = d.stats.filter(s => s.handle_id === h.id);
      const mids = [...new Set(stats.map(s => s.mid))];
      html += '<article class="jh" id="janus-' + h.id + '"><h3>handle ' + esc(h.id) +
        (h.plugin ? " · " + esc(h.plugin.replace("janus.plugin.", "")) : "") + "</h3><dl>" +
        "<dt>ICE</dt><dd>" + states(h.ice_states) + "</dd>" +
        "<dt>pair</dt><dd>" + (h.selected_pair ? esc(h.local_type + " ↔ " + h.remote_type) + ' <small class="mono">' + esc(h.selected_pair) + "</small>" : '<span class="hint">no pair selected</span>') + "</dd>" +
        "<dt>DTLS</dt><dd>" + states(h.dtls_states) + "</dd>" +
        "<dt>PeerConnection</dt><dd>" + (h.webrtcup ? "webrtcup" : '<span class="bad">never up</span>') +
        (h.hangup ? ' · hangup <span class="bad">' + esc(h.hangup_reason || "") + "</span>" : "") + "</dd>" +
        "<dt>media</dt><dd>" + (h.receiving.length ? "receiving on mid " + h.receiving.map(esc).join(", ") : '<span class="hint">nothing received</span>') +
        (h.slowlinks ? ' · <span class="bad">' + h.slowlinks + " slow link" + (h.slowlinks > 1 ? "s" : "") + "</span>" : "") +
        " · " + h.stats_events + " statistics events</dd></dl>";
      if (cands.length) {
        html += '<table class="cands"><thead><tr><th>side</th><th>type</th><th>protocol</th><th>address</th></tr></thead><tbody>' +
          cands.map(c => "<tr><td>" + esc(c.side) + "</td><td>" + esc(c.type) + "</td><td>" + esc(c.protocol) + '</td><td class="mono">' + esc(c.address) + "</td></tr>").join("") +
          "</tbody></table>";
      } else {
        html += '<p class="hint">' + h.local_candidates + " local and " + h.remote_candidates + " remote candidates reported</p>";
      }
      for (const mid of mids) {
        const ss = stats.filter(s => s.mid === mid);
        html += '<div class="sparks"><span class="mid">mid ' + esc(mid) + " " + esc(ss[0].media) + "</span>" +
          spark("rtt", ss.map(s => s.rtt), "ms") +
          spark("lost", ss.map(s => s.lost), "packets") +
          spark("in", ss.map(s => s.bytes_received_lastsec < 0 ? -1 : Math.round(s.bytes_received_lastsec * 8 / 1000)), "kbit/s") +
          spark("out", ss.map(s => s.bytes_sent_lastsec < 0 ? -1 : Math.round(s.bytes_sent_lastsec * 8 / 1000)), "kbit/s") + "</div>";
      }
      html += "</article>";
    }
    view.innerHTML = html;
    view.dataset.ready = "1";
  }

  fetch("/api/s/" + encodeURIComponent(gw) + "/" + sid + "/janus")
    .then(r => r.ok ? r.json() : Promise.reject(new Error("janus view: " + r.status)))
    .then(draw)
    .catch(e => { view.hidden = false; view.textContent = String(e.message || e); });
})();
