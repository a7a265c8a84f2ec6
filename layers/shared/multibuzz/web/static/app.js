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

  var COLOURS = ["#1f6feb", "#d4380d", "#237804", "#6b21a8"];

  // Chart.js bars (and lines on a right-hand axis) from a <script type="application/json"> next to the canvas.
  function drawChart(canvas) {
    var source = document.getElementById(canvas.id + "-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    if (!data.datasets) data.datasets = [{ label: data.label, values: data.values }];
    var scales = { y: { beginAtZero: true } };
    var datasets = data.datasets.map(function (set, i) {
      if (set.axis === "y1") scales.y1 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } };
      return {
        label: set.label, data: set.values, type: set.type || "bar", yAxisID: set.axis || "y",
        backgroundColor: COLOURS[i % COLOURS.length], borderColor: COLOURS[i % COLOURS.length]
      };
    });
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: { responsive: true, aspectRatio: 3, animation: false, scales: scales, plugins: { legend: { display: true } } }
    });
  }

  // One chart per task (a page with two charts does not block input for both at once); the canvas's box is
  // reserved by CSS, so nothing moves when a chart appears.
  function drawCharts() {
    if (typeof window.Chart === "undefined") return;
    var canvases = Array.prototype.slice.call(document.querySelectorAll("canvas[id$='-chart']"));
    (function next() {
      var canvas = canvases.shift();
      if (!canvas) return;
      drawChart(canvas);
      if (canvases.length) setTimeout(next, 0);
    })();
  }

  onReady(function () {
    document.querySelectorAll("select[data-custom-toggle]").forEach(function (select) {
      syncCustom(select);
      select.addEventListener("change", function () { syncCustom(select); });
    });
    drawCharts();
  });
})();
