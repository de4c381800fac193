// compare.js points both ladders of the compare page at a difference when
// it is clicked (or chosen with Enter).
"use strict";
(function () {
  const table = document.getElementById("diffs");
  if (!table) return;
  const frames = { a: document.getElementById("capture"), b: document.getElementById("replay") };
  function show(tr) {
    table.querySelectorAll("tr.on").forEach(e => e.classList.remove("on"));
    tr.classList.add("on");
    for (const side of ["a", "b"]) {
      const n = tr.dataset[side];
      if (n && n !== "0") frames[side].contentWindow.location.hash = "#m" + n;
    }
  }
  table.addEventListener("click", e => { const tr = e.target.closest("tr[data-a]"); if (tr) show(tr); });
  table.addEventListener("keydown", e => { const tr = e.target.closest("tr[data-a]"); if (tr && e.key === "Enter") show(tr); });
})();
