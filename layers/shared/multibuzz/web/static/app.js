// Multibuzz pages: progressive enhancement only. Every page works without this file.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  // Copy buttons: data-copy="text".
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    var text = button.getAttribute("data-copy");
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var area = document.createElement("textarea");
      area.value = text; document.body.appendChild(area); area.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
      document.body.removeChild(area);
    }
  });

  // Loading state: a submitted form's button shows Pico's spinner until the next page (or htmx swap) arrives.
  document.addEventListener("submit", function (event) {
    var button = event.target.querySelector("button[type=submit]");
    if (button) button.setAttribute("aria-busy", "true");
  });

  // Date picker: the from/to fields only matter for a custom range.
  function syncCustom(select) {
    var custom = select.value === "custom";
    select.form.querySelectorAll("[data-custom-field]").forEach(function (field) {
      field.disabled = !custom;
      field.hidden = !custom;
    });
  }

  // Chart.js bars from a <script type="application/json"> next to the canvas.
  function drawCharts() {
    if (typeof window.Chart === "undefined") return;
    document.querySelectorAll("canvas[id$='-chart']").forEach(function (canvas) {
      var source = document.getElementById(canvas.id + "-data");
      if (!source) return;
      var data = JSON.parse(source.textContent);
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: data.labels, datasets: [{ label: data.label, data: data.values, backgroundColor: "#1f6feb" }] },
        options: { responsive: true, aspectRatio: 3, animation: false, plugins: { legend: { display: true } } }
      });
    });
  }

  onReady(function () {
    document.querySelectorAll("select[data-custom-toggle]").forEach(function (select) {
      syncCustom(select);
      select.addEventListener("change", function () { syncCustom(select); });
    });
    drawCharts();
  });
})();
