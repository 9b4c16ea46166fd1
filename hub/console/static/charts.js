// Draws the charts page's figures (embedded as JSON) with plotly.js, served by the hub.
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof Plotly === "undefined") {
    return;
  }
  var data = JSON.parse(block.textContent);
  data.charts.forEach(function (chart) {
    var element = document.getElementById("chart-" + chart.key);
    if (!element) {
      return;
    }
    var traces = chart.series.map(function (line) {
      return { type: "scatter", mode: "lines+markers", name: line.name, x: line.x, y: line.y };
    });
    var layout = {
      title: { text: chart.title },
      height: 320,
      margin: { t: 48, r: 16, b: 48, l: 56 },
      xaxis: { title: { text: "time (" + data.zone + ")" } },
      yaxis: { title: { text: chart.unit }, rangemode: "tozero" },
      legend: { orientation: "h", y: -0.25 },
      paper_bgcolor: "rgba(0,0,0,0)"
    };
    Plotly.newPlot(element, traces, layout, { displayModeBar: false, responsive: true }).then(
      function () {
        element.setAttribute("data-drawn", "true");
      }
    );
  });
})();
