/*
 * rivulet · GitHub star leaders (24 h): the live dashboard page.
 *
 * Plain browser script, no build step. Needs the globals `rxjs` (rxjs 7 UMD bundle) and `Chart`
 * (chart.js 4 UMD bundle), loaded before it. It opens a WebSocket to the page's own host at the
 * path in <meta name="rivulet-feed"> (ws: or wss: following the page), reconnects with backoff,
 * and redraws on every message without reloading.
 *
 * Feed protocol: JSON text, one message per WebSocket message. Anything else, and any field of
 * the wrong type, is ignored.
 *
 * - {"type":"leaders","partition":3,"eventTime":1420070400000,"leaders":[{"repo":"owner/name",
 *   "stars":12,"recent":[{"kind":"fork"|"pull_request","text":"Forked by bob"|"Pull request #617: title",
 *   "url":"https://github.com/..."|null}]}]}
 *   The latest top list of one partition: it replaces that partition's previous list (an empty
 *   list is valid). `eventTime` is epoch ms. The page merges the lists of all partitions into
 *   the global top 10: stars descending, ties by repo name ascending in UTF-16 code unit order
 *   (the rule of the server's topK).
 * - {"type":"stats","eventsPerSecond":123.4,"events":4567,"watermark":1420070400000|null,
 *   "late":0,"clients":2,"partitions":10,"refusedOrigins":0,"refusedHosts":0,
 *   "oversizedMessages":0,"slowClientsDropped":0,"messagesDropped":0}
 *   Pipeline figures, shown as they are; `watermark` is epoch ms, or null before the first event.
 *   The last five, the feed's faults, are optional: shown as – when absent.
 * - {"type":"history","series":[{"repo":"owner/name","points":[[1420070400000,3],[1420070460000,4]],
 *   "leftAgo":null}]}
 *   The chart's lines as the server kept them (the same rules as this page's), sent first to a
 *   page that connects or reconnects: it replaces the page's lines, and the leaders lists that
 *   follow continue them. `leftAgo`: how many leaders messages ago the repo left the top 10.
 *
 * Security: every string in a message is attacker-controlled (repo names, logins, PR titles,
 * URLs come from GitHub users). Text goes into the page only through textContent, attributes
 * only through setAttribute on inert attributes, and links only to https://github.com/. Nothing
 * from the feed is ever parsed as HTML.
 */
(function () {
  'use strict';

  var TOP_N = 10;
  // Bounds on what the feed can make the page hold, whatever it sends.
  var MAX_PARTITIONS = 4096;
  var MAX_LEADERS_PER_PARTITION = 100;
  var MAX_RECENT = 5;
  var MAX_TEXT = 300;
  var MAX_REPO = 200;
  var MAX_POINTS_PER_SERIES = 500;
  /** A series that left the top 10 is kept this many leaders messages, in case it returns. */
  var KEEP_SERIES_MESSAGES = 1000;
  var MAX_SERIES = 40;
  var PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  var KIND_LABELS = { fork: 'fork', pull_request: 'PR' };
  /** The feed's fault counters: message field, element id, label. */
  var FAULT_STATS = [
    ['refusedOrigins', 'stat-refused-origins', 'refused origins'],
    ['refusedHosts', 'stat-refused-hosts', 'refused hosts'],
    ['oversizedMessages', 'stat-oversized', 'oversized messages'],
    ['slowClientsDropped', 'stat-slow-clients', 'slow clients dropped'],
    ['messagesDropped', 'stat-messages-dropped', 'messages dropped'],
  ];

  /** partition number -> its latest leaders list (validated). */
  var partitions = new Map();
  /** repo -> { points: [{x, y}], color, leftAt: message count when it left the top, or null }. */
  var series = new Map();
  var leadersMessages = 0;
  var latestEventTime = null;
  var top = [];
  var chart = null;
  var renderPending = false;

  // ---- validation: the feed's JSON becomes plain, bounded, typed values or is dropped ----

  function isFiniteNumber(value) {
    return typeof value === 'number' && isFinite(value);
  }

  function clip(text, max) {
    return text.length > max ? text.slice(0, max - 1) + '…' : text;
  }

  /** The URL itself when it is an https://github.com/ page, otherwise null. */
  function githubUrl(value) {
    if (typeof value !== 'string') return null;
    var url;
    try {
      url = new URL(value);
    } catch (err) {
      return null;
    }
    if (url.origin !== 'https://github.com' || url.username !== '' || url.password !== '') return null;
    return url.href;
  }

  /** https://github.com/<owner>/<name>, each path segment percent-encoded. */
  function repoUrl(repo) {
    return githubUrl('https://github.com/' + repo.split('/').map(encodeURIComponent).join('/'));
  }

  function parseRecent(list) {
    var out = [];
    if (!Array.isArray(list)) return out;
    for (var i = 0; i < list.length && out.length < MAX_RECENT; i++) {
      var item = list[i];
      if (item === null || typeof item !== 'object') continue;
      if (!Object.prototype.hasOwnProperty.call(KIND_LABELS, item.kind) || typeof item.text !== 'string') continue;
      out.push({ kind: item.kind, text: clip(item.text, MAX_TEXT), url: githubUrl(item.url) });
    }
    return out;
  }

  function parseLeaders(message) {
    var partition = message.partition;
    if (!Number.isInteger(partition) || partition < 0 || !isFiniteNumber(message.eventTime) || !Array.isArray(message.leaders)) return null;
    if (!partitions.has(partition) && partitions.size >= MAX_PARTITIONS) return null;
    var leaders = [];
    for (var i = 0; i < message.leaders.length && leaders.length < MAX_LEADERS_PER_PARTITION; i++) {
      var item = message.leaders[i];
      if (item === null || typeof item !== 'object') continue;
      if (typeof item.repo !== 'string' || item.repo === '' || item.repo.length > MAX_REPO) continue;
      if (!isFiniteNumber(item.stars) || item.stars < 0) continue;
      leaders.push({ repo: item.repo, stars: item.stars, recent: parseRecent(item.recent) });
    }
    return { partition: partition, eventTime: message.eventTime, leaders: leaders };
  }

  /** The server's lines, validated and bounded as the page's own; null for a malformed message. */
  function parseHistory(message) {
    if (!Array.isArray(message.series)) return null;
    var restored = new Map();
    for (var i = 0; i < message.series.length && restored.size < MAX_SERIES; i++) {
      var item = message.series[i];
      if (item === null || typeof item !== 'object' || typeof item.repo !== 'string' || item.repo === '' || item.repo.length > MAX_REPO) continue;
      if (!Array.isArray(item.points) || restored.has(item.repo)) continue;
      var leftAgo = item.leftAgo;
      if (leftAgo !== null && !(Number.isInteger(leftAgo) && leftAgo >= 0)) continue;
      var entry = { points: [], color: null, leftAt: leftAgo === null ? null : leadersMessages - leftAgo };
      var from = Math.max(0, item.points.length - MAX_POINTS_PER_SERIES);
      for (var j = from; j < item.points.length; j++) {
        var point = item.points[j];
        if (!Array.isArray(point) || !isFiniteNumber(point[0]) || !isFiniteNumber(point[1]) || point[1] < 0) continue;
        var last = entry.points[entry.points.length - 1];
        // A line never goes back in x.
        if (last !== undefined && point[0] <= last.x) continue;
        entry.points.push({ x: point[0], y: point[1] });
      }
      if (entry.points.length > 0) restored.set(item.repo, entry);
    }
    return restored;
  }

  // ---- the global top 10 ----

  function compareRepos(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  function compareLeaders(a, b) {
    return b.stars - a.stars || compareRepos(a.repo, b.repo);
  }

  /** Merges every partition's latest list; a repo listed twice counts once, at its best. */
  function mergeTop() {
    var best = new Map();
    partitions.forEach(function (leaders) {
      for (var i = 0; i < leaders.length; i++) {
        var known = best.get(leaders[i].repo);
        if (known === undefined || compareLeaders(leaders[i], known) < 0) best.set(leaders[i].repo, leaders[i]);
      }
    });
    return Array.from(best.values()).sort(compareLeaders).slice(0, TOP_N);
  }

  // ---- chart series: one per repo that is or recently was a leader, bounded ----

  function appendPoint(entry, x, y) {
    var points = entry.points;
    var last = points[points.length - 1];
    if (last !== undefined && last.y === y) return;
    // Lists of different partitions can arrive slightly out of event-time order; a line must not
    // go back in x, so a late change is drawn at the latest time already plotted.
    if (last !== undefined && x <= last.x) last.y = y;
    else points.push({ x: x, y: y });
    if (points.length > MAX_POINTS_PER_SERIES) points.splice(0, points.length - MAX_POINTS_PER_SERIES);
  }

  function recordSeries(message) {
    var inTop = new Set(top.map(function (leader) { return leader.repo; }));
    message.leaders.forEach(function (leader) {
      var entry = series.get(leader.repo);
      if (entry === undefined && !inTop.has(leader.repo)) return;
      if (entry === undefined) {
        entry = { points: [], color: null, leftAt: null };
        series.set(leader.repo, entry);
      }
      appendPoint(entry, message.eventTime, leader.stars);
    });
    // A repo of another partition can enter the top 10 when a leader of this one drops out.
    top.forEach(function (leader) {
      if (series.has(leader.repo)) return;
      var entry = { points: [], color: null, leftAt: null };
      series.set(leader.repo, entry);
      appendPoint(entry, message.eventTime, leader.stars);
    });
    var retired = [];
    series.forEach(function (entry, repo) {
      if (inTop.has(repo)) entry.leftAt = null;
      else if (entry.leftAt === null) entry.leftAt = leadersMessages;
      else if (leadersMessages - entry.leftAt > KEEP_SERIES_MESSAGES) series.delete(repo);
      if (entry.leftAt !== null && series.has(repo)) retired.push(repo);
    });
    // Oldest-retired first, until the bound holds.
    retired.sort(function (a, b) { return series.get(a).leftAt - series.get(b).leftAt; });
    for (var i = 0; series.size > MAX_SERIES && i < retired.length; i++) series.delete(retired[i]);
  }

  /** Gives every leader a colour no higher-ranked leader has. */
  /** The leaders that have a line: after a history that left some out, not every one has. */
  function drawn() {
    return top.filter(function (leader) {
      var entry = series.get(leader.repo);
      return entry !== undefined && entry.points.length > 0;
    });
  }

  function assignColors() {
    var used = new Set();
    var needing = [];
    drawn().forEach(function (leader) {
      var entry = series.get(leader.repo);
      if (entry.color !== null && !used.has(entry.color)) used.add(entry.color);
      else needing.push(entry);
    });
    needing.forEach(function (entry) {
      entry.color = PALETTE.filter(function (color) { return !used.has(color); })[0] || PALETTE[0];
      used.add(entry.color);
    });
  }

  // ---- formatting ----

  function isoTime(ms) {
    return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
  }

  function pad2(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /** Axis tick: UTC "HH:MM", with the date in front at midnight; none before there is data. */
  function formatTick(value) {
    // An empty chart's axis runs from 0 to 1: epoch ms of 1 January 1970.
    if (latestEventTime === null) return '';
    var date = new Date(value);
    if (isNaN(date.getTime())) return '';
    var time = pad2(date.getUTCHours()) + ':' + pad2(date.getUTCMinutes());
    if (date.getUTCHours() === 0 && date.getUTCMinutes() === 0) return [time, date.toISOString().slice(0, 10)];
    return time;
  }

  function formatNumber(value, fractionDigits) {
    return isFiniteNumber(value) ? value.toLocaleString('en-US', { maximumFractionDigits: fractionDigits }) : '–';
  }

  // ---- DOM ----

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function link(href, text) {
    var a = el('a', '', text);
    a.setAttribute('href', href);
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer');
    return a;
  }

  function leaderRow(leader, rank) {
    var tr = el('tr');
    tr.setAttribute('data-repo', leader.repo);
    tr.setAttribute('data-rank', String(rank));

    var rankCell = el('td', 'rank');
    var swatch = el('span', 'swatch');
    var entry = series.get(leader.repo);
    if (entry && entry.color) swatch.style.backgroundColor = entry.color;
    rankCell.appendChild(swatch);
    rankCell.appendChild(document.createTextNode(String(rank)));

    var repoCell = el('td', 'repo');
    var href = repoUrl(leader.repo);
    var name = href === null ? el('span', 'text', leader.repo) : link(href, leader.repo);
    name.classList.add('text');
    repoCell.appendChild(name);

    var starsCell = el('td', 'stars', formatNumber(leader.stars, 0));
    starsCell.setAttribute('data-stars', String(leader.stars));

    var recentCell = el('td', 'recent');
    if (leader.recent.length === 0) {
      recentCell.appendChild(el('span', 'none', '—'));
    } else {
      var list = el('ul');
      leader.recent.forEach(function (event) {
        var item = el('li');
        item.setAttribute('data-kind', event.kind);
        item.appendChild(el('span', 'kind kind-' + event.kind, KIND_LABELS[event.kind]));
        item.appendChild(event.url === null ? el('span', 'text', event.text) : link(event.url, event.text));
        item.lastChild.classList.add('text');
        list.appendChild(item);
      });
      recentCell.appendChild(list);
    }

    tr.appendChild(rankCell);
    tr.appendChild(repoCell);
    tr.appendChild(starsCell);
    tr.appendChild(recentCell);
    return tr;
  }

  function renderTable() {
    var tbody = document.querySelector('#leaders tbody');
    var rows = top.map(function (leader, i) { return leaderRow(leader, i + 1); });
    tbody.replaceChildren.apply(tbody, rows);
    document.getElementById('leaders-empty').hidden = top.length > 0;
    var time = document.getElementById('leaders-time');
    if (time && latestEventTime !== null) time.textContent = 'as of ' + isoTime(latestEventTime);
  }

  var MINUTE = 60000;
  var TICK_STEPS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, 60 * MINUTE, 120 * MINUTE, 180 * MINUTE, 360 * MINUTE, 720 * MINUTE, 1440 * MINUTE];

  /** A round tick step (whole minutes or hours of UTC) giving at most about 8 ticks. */
  function tickStep(span) {
    for (var i = 0; i < TICK_STEPS.length; i++) if (span / TICK_STEPS[i] <= 8) return TICK_STEPS[i];
    return Math.ceil(span / 8 / TICK_STEPS[TICK_STEPS.length - 1]) * TICK_STEPS[TICK_STEPS.length - 1];
  }

  function renderChart() {
    if (chart === null) return;
    var minX = Infinity;
    var maxX = -Infinity;
    var lines = drawn();
    chart.data.datasets = lines.map(function (leader) {
      var entry = series.get(leader.repo);
      var data = entry.points;
      var last = data[data.length - 1];
      // A count holds until it changes: draw each line on to the latest event time seen.
      if (latestEventTime !== null && latestEventTime > last.x) data = data.concat([{ x: latestEventTime, y: last.y }]);
      minX = Math.min(minX, data[0].x);
      maxX = Math.max(maxX, data[data.length - 1].x);
      return {
        label: leader.repo,
        data: data,
        borderColor: entry.color,
        backgroundColor: entry.color,
        stepped: 'after',
      };
    });
    var x = chart.options.scales.x;
    // chart.js widens a zero-width range by 5% of the value, which for epoch ms is years.
    var narrow = lines.length > 0 && maxX - minX < MINUTE;
    x.min = narrow ? minX - 5 * MINUTE : undefined;
    x.max = narrow ? maxX + 5 * MINUTE : undefined;
    x.ticks.stepSize = lines.length === 0 ? undefined : tickStep(narrow ? 10 * MINUTE : maxX - minX);
    chart.update('none');
  }

  function render() {
    renderPending = false;
    assignColors();
    renderTable();
    renderChart();
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
    setText('stat-events-per-second', formatNumber(message.eventsPerSecond, 1));
    setText('stat-events', formatNumber(message.events, 0));
    setText('stat-watermark', isFiniteNumber(message.watermark) ? isoTime(message.watermark) : '–');
    setText('stat-late', formatNumber(message.late, 0));
    setText('stat-clients', formatNumber(message.clients, 0));
    setText('stat-partitions', formatNumber(message.partitions, 0));
    FAULT_STATS.forEach(function (fault) {
      faultCell(fault[1], fault[2]).textContent = formatNumber(message[fault[0]], 0);
    });
  }

  /** A fault counter's cell, added after the other stats the first time it is shown. */
  function faultCell(id, label) {
    var cell = document.getElementById(id);
    if (cell) return cell;
    var item = document.createElement('div');
    item.appendChild(el('dt', null, label));
    cell = el('dd', null, '–');
    cell.id = id;
    item.appendChild(cell);
    document.querySelector('.stats dl').appendChild(item);
    return cell;
  }

  function setConnection(state, text) {
    var node = document.getElementById('connection');
    node.setAttribute('data-state', state);
    node.textContent = text;
    document.body.classList.toggle('stale', state !== 'live');
  }

  // ---- messages ----

  function handle(text) {
    var message;
    try {
      message = JSON.parse(text);
    } catch (err) {
      return;
    }
    if (message === null || typeof message !== 'object') return;
    if (message.type === 'leaders') {
      var leaders = parseLeaders(message);
      if (leaders === null) return;
      partitions.set(leaders.partition, leaders.leaders);
      leadersMessages++;
      if (latestEventTime === null || leaders.eventTime > latestEventTime) latestEventTime = leaders.eventTime;
      top = mergeTop();
      recordSeries(leaders);
      scheduleRender();
    } else if (message.type === 'history') {
      var restored = parseHistory(message);
      if (restored === null) return;
      series = restored;
      scheduleRender();
    } else if (message.type === 'stats') {
      showStats(message);
    }
  }

  function createChart() {
    var canvas = document.getElementById('chart');
    chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        maintainAspectRatio: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        elements: { point: { radius: 0, hitRadius: 6, hoverRadius: 4 }, line: { borderWidth: 2 } },
        scales: {
          x: {
            type: 'linear',
            title: { display: true, text: 'event time (UTC)' },
            ticks: { callback: formatTick, maxRotation: 0, autoSkipPadding: 16 },
            grid: { color: 'rgba(0,0,0,0.05)' },
          },
          y: {
            beginAtZero: true,
            title: { display: true, text: 'stars in 24 h' },
            ticks: { precision: 0 },
            grid: { color: 'rgba(0,0,0,0.06)' },
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12, boxHeight: 2, padding: 10 } },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length > 0 ? isoTime(items[0].parsed.x) : ''; },
            },
          },
        },
      },
    });
  }

  function feedUrl() {
    var meta = document.querySelector('meta[name="rivulet-feed"]');
    var path = (meta && meta.getAttribute('content')) || '/feed';
    if (path.charAt(0) !== '/') path = '/' + path;
    return (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + path;
  }

  function connect() {
    var attempts = 0;
    var retryDelay = function () {
      var seconds = Math.min(30, Math.pow(2, attempts));
      attempts++;
      setConnection('disconnected', 'disconnected · reconnecting in ' + seconds + ' s');
      return rxjs.timer(seconds * 1000);
    };
    var feed = rxjs.defer(function () {
      setConnection(attempts === 0 ? 'connecting' : 'reconnecting', attempts === 0 ? 'connecting…' : 'reconnecting…');
      return rxjs.webSocket.webSocket({
        url: feedUrl(),
        // Parsed in `handle`, where a bad message is dropped instead of closing the feed.
        deserializer: function (event) { return event.data; },
        openObserver: {
          next: function () {
            attempts = 0;
            setConnection('live', 'live');
          },
        },
      });
    }).pipe(
      // A clean close completes and an unclean one errors: reconnect after either.
      rxjs.repeat({ delay: retryDelay }),
      rxjs.retry({ delay: retryDelay })
    );
    feed.subscribe({ next: function (data) { if (typeof data === 'string') handle(data); } });
  }

  createChart();
  connect();
})();
