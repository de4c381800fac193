// sessions.js keeps the first page of sessions up to date from /live and
// puts "/" on the search box.
"use strict";
(function () {
  const table = document.getElementById("sessions");
  const search = document.getElementById("search");
  document.addEventListener("keydown", e => {
    if (e.key === "/" && document.activeElement !== search) { e.preventDefault(); search.focus(); }
  });
  if (table.dataset.first !== "true" || !window.EventSource) return;
  const liveEl = document.getElementById("live");
  const es = new EventSource("/live");
  let timer = null;
  es.addEventListener("hello", e => {
    if (JSON.parse(e.data).live) { liveEl.hidden = false; liveEl.textContent = "● live: new sessions appear here"; }
  });
  es.addEventListener("event", () => {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      const q = new URLSearchParams(location.search);
      q.set("partial", "1");
      const resp = await fetch("/?" + q.toString());
      if (!resp.ok) return;
      const tmp = document.createElement("table");
      tmp.innerHTML = await resp.text();
      const rows = tmp.querySelector("tbody");
      if (rows) document.getElementById("rows").replaceWith(rows);
    }, 500);
  });
  es.onerror = () => { liveEl.hidden = true; };
})();
