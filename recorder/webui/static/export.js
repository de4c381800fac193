// export.js turns the ladder's SVG (/s/GATEWAY/ID/ladder.svg, drawn by the
// server) into a PNG in the browser when the PNG link is followed: the SVG
// is drawn on a canvas at twice its size and saved.
"use strict";
(function () {
  const link = document.getElementById("pngexport");
  if (!link) return;
  link.addEventListener("click", ev => {
    if (link.dataset.png) return; // made: let the download go
    ev.preventDefault();
    const img = new Image();
    img.onload = () => {
      const scale = 2, c = document.createElement("canvas");
      c.width = img.width * scale; c.height = img.height * scale;
      const g = c.getContext("2d");
      g.scale(scale, scale);
      g.drawImage(img, 0, 0);
      c.toBlob(blob => {
        link.href = URL.createObjectURL(blob);
        link.dataset.png = String(blob.size);
        link.click();
      }, "image/png");
    };
    img.onerror = () => { link.textContent = "PNG (failed)"; };
    img.src = link.getAttribute("href").split("?")[0];
  });
})();
