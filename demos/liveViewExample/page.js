// The page side of demos/liveViewExample.ts: one line of chart.js fed by rivuletFeed, which
// reconnects by itself and gets the server's replay of the last points first.
(function () {
  'use strict';
  var MAX_POINTS = 300;
  var points = [];
  var chart = new Chart(document.getElementById('chart'), {
    type: 'line',
    data: { datasets: [{ label: 'heap used (MiB)', data: points, pointRadius: 0 }] },
    options: {
      animation: false,
      parsing: false,
      scales: {
        // No ticks before the first point: an empty time axis would start in 1970.
        x: { type: 'linear', ticks: { callback: function (ms) { return points.length > 0 ? new Date(ms).toLocaleTimeString() : ''; } } },
        y: { beginAtZero: true },
      },
    },
  });
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/memory';
  rivuletFeed(url).subscribe(function (reading) {
    if (reading === null || typeof reading.at !== 'number' || typeof reading.heapMiB !== 'number') return;
    points.push({ x: reading.at, y: reading.heapMiB });
    if (points.length > MAX_POINTS) points.shift();
    document.getElementById('latest').textContent = reading.heapMiB.toFixed(1) + ' MiB';
    chart.update('none');
  });
})();
