/* The figures page's charts: each <canvas data-chart="{...}"> carries its
   data (labels already translated, percentages as percent) and is drawn
   with the vendored Chart.js (static/vendor/chart.umd.min.js). The page's
   Content-Security-Policy allows no inline script, hence this file.
   Without JavaScript, or if Chart.js did not load, the charts stay hidden
   and the tables below them say the same. */
(function () {
  "use strict";

  // The console's colours: maroon of the header, then distinct, print-safe hues.
  var PALETTE = ["#7a1f2b", "#0a58ca", "#2f855a", "#b7791f", "#6b46c1", "#5b6470", "#c05621", "#2c7a7b"];
  var REFERENCE_COLOUR = "#a0aec0";

  function formatter(locale, unit) {
    var number = new Intl.NumberFormat(locale, {maximumFractionDigits: unit === "€" ? 2 : 1});
    return function (value) {
      if (value === null || value === undefined) { return "–"; }
      if (unit === "%") { return number.format(value) + " %"; }
      if (unit === "€") { return number.format(value) + " €"; }
      return number.format(value);
    };
  }

  function barConfig(spec, horizontal) {
    var unit = spec.datasets.length ? spec.datasets[0].unit : "";
    var format = formatter(spec.locale, unit);
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set, index) {
          // The reference deployment's figure, for comparison, in grey.
          var colour = set.reference ? REFERENCE_COLOUR : PALETTE[index % PALETTE.length];
          return {label: set.label, data: set.data, backgroundColor: colour, borderColor: colour,
                  borderWidth: 1, maxBarThickness: 48};
        })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        locale: spec.locale,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: (function () {
          // Counts have no fractions: no tick at 0.5 reminders.
          var values = {beginAtZero: true, ticks: {precision: unit ? undefined : 0,
                                                   callback: function (value) { return format(value); }}};
          return horizontal ? {x: values} : {y: values};
        })(),
        plugins: {
          legend: {display: spec.datasets.length > 1, position: "bottom"},
          tooltip: {callbacks: {label: function (item) {
            return item.dataset.label + ": " + format(item.raw);
          }}}
        }
      }
    };
  }

  function doughnutConfig(spec) {
    var set = spec.datasets[0];
    var format = formatter(spec.locale, set.unit);
    var percent = formatter(spec.locale, "%");
    return {
      type: "doughnut",
      data: {
        labels: spec.labels,
        datasets: [{label: set.label, data: set.data.map(function (v) { return v || 0; }),
                    backgroundColor: spec.labels.map(function (_, i) { return PALETTE[i % PALETTE.length]; }),
                    borderColor: "#fff", borderWidth: 2}]
      },
      options: {
        locale: spec.locale,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: {position: "bottom", align: "start"},
          tooltip: {callbacks: {label: function (item) {
            var total = item.dataset.data.reduce(function (a, b) { return a + b; }, 0);
            return item.label + ": " + format(item.raw) + (total ? " (" + percent(100 * item.raw / total) + ")" : "");
          }}}
        }
      }
    };
  }

  function draw(canvas) {
    var spec;
    try {
      spec = JSON.parse(canvas.getAttribute("data-chart"));
    } catch (error) {
      return;  // the table below says the same
    }
    var config = spec.type === "doughnut" ? doughnutConfig(spec) : barConfig(spec, spec.type === "horizontal-bar");
    canvas.parentNode.hidden = false;
    new window.Chart(canvas, config);
    canvas.setAttribute("data-drawn", "true");
  }

  function drawAll() {
    if (!window.Chart) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
}());
