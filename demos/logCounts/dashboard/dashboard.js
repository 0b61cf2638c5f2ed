/*
 * rivulet · HTTP status codes per day: the log-counts dashboard page.
 *
 * Plain browser script, no build step. Needs the globals `rxjs`, `rivuletFeed` and `Chart`,
 * loaded before it from /vendor/. It follows the feed at <meta name="rivulet-feed"> on the page's
 * own host (reconnecting with backoff) and redraws on every message.
 *
 * Feed protocol (see demos/logCounts/dashboardFeed.ts): JSON text, one message per WebSocket
 * message; anything else, and any field of the wrong type, is ignored.
 * - {"type":"day","day":"2004-03-07","counts":[["200",147],["401",48]],"lines":196,"unparsed":0,"open":true}
 *   Everything known of one day; it replaces what the page had for that day.
 * - {"type":"stats","lines":1546,"unparsed":0,"late":0,"days":6,"finished":false}
 *
 * The feed's text never becomes markup: it goes into the page through textContent only, and only
 * after it has the shape of a date or a status code.
 */
(function () {
  'use strict';

  // Bounds on what the feed can make the page hold, whatever it sends.
  var MAX_DAYS = 400;
  var MAX_CODES_PER_DAY = 60;
  var DAY = /^\d{4}-\d{2}-\d{2}$/;
  var CODE = /^\d{3}$/;
  var SHADES = {
    '2': ['#2da44e', '#116329', '#6fdd8b', '#4ac26b'],
    '3': ['#0969da', '#0a3069', '#54aeff', '#218bff'],
    '4': ['#d4a72c', '#bc4c00', '#fb8f44', '#9a6700', '#eac54f', '#953800'],
    '5': ['#cf222e', '#82071e', '#ff8182', '#a40e26'],
  };
  var OTHER = '#8c959f';

  /** day -> { counts: Map code -> lines, lines, unparsed, open } */
  var days = new Map();
  var chart = null;
  var renderPending = false;

  function isCount(value) {
    return typeof value === 'number' && isFinite(value) && value >= 0;
  }

  function parseDay(message) {
    if (typeof message.day !== 'string' || !DAY.test(message.day) || !Array.isArray(message.counts)) return null;
    if (!isCount(message.lines) || !isCount(message.unparsed) || typeof message.open !== 'boolean') return null;
    var counts = new Map();
    for (var i = 0; i < message.counts.length && counts.size < MAX_CODES_PER_DAY; i++) {
      var pair = message.counts[i];
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || !CODE.test(pair[0]) || !isCount(pair[1])) continue;
      counts.set(pair[0], pair[1]);
    }
    return { day: message.day, counts: counts, lines: message.lines, unparsed: message.unparsed, open: message.open };
  }

  function sortedDays() {
    return Array.from(days.keys()).sort();
  }

  function keepBounded() {
    if (days.size <= MAX_DAYS) return;
    var order = sortedDays();
    for (var i = 0; days.size > MAX_DAYS; i++) days.delete(order[i]);
  }

  // ---- drawing ----

  function colorsByCode(codes) {
    var used = {};
    var colors = new Map();
    codes.forEach(function (code) {
      var shades = SHADES[code.charAt(0)];
      if (shades === undefined) return colors.set(code, OTHER);
      var n = used[code.charAt(0)] || 0;
      used[code.charAt(0)] = n + 1;
      colors.set(code, shades[n % shades.length]);
    });
    return colors;
  }

  /** An open day's bar is drawn lighter: it is still growing. */
  function lighter(hex) {
    return hex + '80';
  }

  function renderChart(order) {
    if (chart === null) return;
    var codes = new Set();
    order.forEach(function (day) {
      days.get(day).counts.forEach(function (_n, code) { codes.add(code); });
    });
    var codeList = Array.from(codes).sort();
    var colors = colorsByCode(codeList);
    chart.data.labels = order;
    chart.data.datasets = codeList.map(function (code) {
      var color = colors.get(code);
      return {
        label: code,
        data: order.map(function (day) { return days.get(day).counts.get(code) || 0; }),
        backgroundColor: order.map(function (day) { return days.get(day).open ? lighter(color) : color; }),
        borderColor: color,
        borderWidth: order.map(function (day) { return days.get(day).open ? 1 : 0; }),
      };
    });
    chart.update('none');
  }

  function cell(text, className) {
    var td = document.createElement('td');
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function formatNumber(value) {
    return isCount(value) ? value.toLocaleString('en-US') : '–';
  }

  function renderTable(order) {
    var rows = order.slice().reverse().map(function (day) {
      var entry = days.get(day);
      var tr = document.createElement('tr');
      tr.setAttribute('data-day', day);
      tr.setAttribute('data-open', String(entry.open));
      var codes = Array.from(entry.counts.keys()).sort().map(function (code) { return code + ': ' + formatNumber(entry.counts.get(code)); });
      tr.appendChild(cell(day, 'day'));
      tr.appendChild(cell(entry.open ? 'open' : 'closed', 'window'));
      tr.appendChild(cell(formatNumber(entry.lines), 'number lines'));
      tr.appendChild(cell(formatNumber(entry.unparsed), 'number unparsed'));
      tr.appendChild(cell(codes.join(' · '), 'codes'));
      return tr;
    });
    var tbody = document.querySelector('#days tbody');
    tbody.replaceChildren.apply(tbody, rows);
    document.getElementById('days-empty').hidden = order.length > 0;
  }

  function render() {
    renderPending = false;
    var order = sortedDays();
    renderChart(order);
    renderTable(order);
  }

  /** Many messages a second collapse into one redraw per frame. */
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(render);
  }

  function setText(id, text) {
    document.getElementById(id).textContent = text;
  }

  function showStats(message) {
    setText('stat-lines', formatNumber(message.lines));
    setText('stat-unparsed', formatNumber(message.unparsed));
    setText('stat-late', formatNumber(message.late));
    setText('stat-days', formatNumber(message.days));
    if (typeof message.finished === 'boolean') setText('stat-input', message.finished ? 'finished' : 'reading');
  }

  function handle(message) {
    if (message === null || typeof message !== 'object') return;
    if (message.type === 'day') {
      var entry = parseDay(message);
      if (entry === null) return;
      days.set(entry.day, entry);
      keepBounded();
      scheduleRender();
    } else if (message.type === 'stats') {
      showStats(message);
    }
  }

  function setConnection(state, text) {
    var node = document.getElementById('connection');
    node.setAttribute('data-state', state);
    node.textContent = text;
    document.body.classList.toggle('stale', state !== 'live');
  }

  function createChart() {
    chart = new Chart(document.getElementById('chart'), {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: {
            stacked: true,
            ticks: {
              callback: function (value) {
                var day = this.getLabelForValue(value);
                var entry = days.get(day);
                return entry && entry.open ? day + ' (open)' : day;
              },
            },
            grid: { display: false },
          },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'requests' } },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12, padding: 10 } } },
      },
    });
  }

  function feedUrl() {
    var meta = document.querySelector('meta[name="rivulet-feed"]');
    var path = (meta && meta.getAttribute('content')) || '/feed';
    if (path.charAt(0) !== '/') path = '/' + path;
    return (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + path;
  }

  createChart();
  rivuletFeed(feedUrl(), {
    onStatus: function (status, detail) {
      if (status === 'open') setConnection('live', 'live');
      else if (status === 'reconnecting') setConnection('disconnected', 'disconnected · reconnecting in ' + Math.round(detail / 1000) + ' s');
    },
  }).subscribe({
    next: handle,
    complete: function () { setConnection('disconnected', 'the server has finished'); },
  });
})();
