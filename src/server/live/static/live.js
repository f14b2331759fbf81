// The live part of tallyd's page at `/`: reads the `GET /v1/live` event
// stream (an `init`, then a `point` every second) and draws it with uPlot.
// Plain browser JavaScript, no build step.
(() => {
  'use strict';

  const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const HEIGHT = 180;
  const $ = (id) => document.getElementById(id);

  const state = { info: null, windowSeconds: 60, topSubMetrics: 20, points: [] };
  /** chart id → { plot, key } */
  const charts = new Map();
  /** metric name → the series its percentile chart shows ('' = the metric itself) */
  const chosen = new Map();
  // what the browser test reads: charts, points received, events seen
  window.tallydLive = { charts, state, events: 0 };

  function num(n, digits = 1) {
    if (n === null || n === undefined || Number.isNaN(n)) return '–';
    if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en');
    return n.toFixed(n === Math.round(n) ? 0 : digits);
  }

  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const k of kids) e.append(k);
    return e;
  }

  function setText(id, v) {
    const e = $(id);
    if (e !== null && e.textContent !== v) e.textContent = v;
  }

  /** Draws (or updates) a line chart; `series` names the y columns of `data` (data[0]: Unix seconds). */
  function chart(id, title, series, data, yLabel) {
    const box = $(id);
    if (box === null) return;
    const key = [title, ...series].join('\u0000');
    let c = charts.get(id);
    if (c !== undefined && c.key !== key) {
      c.plot.destroy();
      c = undefined;
    }
    if (c === undefined) {
      const opts = {
        title,
        width: Math.max(300, box.clientWidth),
        height: HEIGHT,
        scales: { x: { time: true } },
        axes: [{}, { size: 60, label: yLabel }],
        series: [{}, ...series.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
      };
      c = { plot: new uPlot(opts, data, box), key };
      charts.set(id, c);
    } else c.plot.setData(data);
  }

  const xs = () => state.points.map((p) => p.t);

  function sumValues(o) {
    let s = 0;
    for (const v of Object.values(o)) s += v;
    return s;
  }

  function drawTotals(p) {
    setText('eps1', num(p.eps.s1));
    setText('eps10', num(p.eps.s10));
    setText('eps60', num(p.eps.s60));
    setText('span', String(Math.round(p.span)));
    setText('accepted', p.accepted.toLocaleString('en'));
    setText('rejected', sumValues(p.rejected).toLocaleString('en'));
    setText('lost', p.lost.toLocaleString('en'));
    if (state.info !== null) setText('uptime', `${Math.round(p.t - state.info.startTime)} s`);
    const pts = state.points;
    const rejectedRate = pts.map((q, i) => {
      if (i === 0) return null;
      const prev = pts[i - 1];
      const d = sumValues(q.rejected) - sumValues(prev.rejected);
      return d >= 0 ? d / (q.t - prev.t) : null;
    });
    chart('chart-ingest', 'events/s', ['accepted', 'rejected'], [xs(), pts.map((q) => q.eps.s1), rejectedRate], 'events/s');
  }

  function drawShards(p) {
    const pts = state.points;
    const names = p.shards.map((s) => `shard ${s.index}`);
    const col = (i, f) => pts.map((q) => (q.shards[i] === undefined ? null : f(q.shards[i])));
    chart('chart-fill', 'ring fill %', names, [xs(), ...p.shards.map((_, i) => col(i, (s) => s.fill * 100))], '%');
    chart('chart-shard-eps', 'events/s by shard', names, [xs(), ...p.shards.map((_, i) => col(i, (s) => s.eps))], 'events/s');
    const body = document.querySelector('#shards tbody');
    body.replaceChildren(
      ...p.shards.map((s) =>
        el('tr', {}, el('td', {}, String(s.index)), el('td', {}, `${(s.fill * 100).toFixed(1)} %`), el('td', {}, num(s.eps)), el('td', {}, String(s.pending)), el('td', {}, String(s.restarts))),
      ),
    );
  }

  function drawRejects(p) {
    const rows = Object.keys(p.rejected)
      .sort()
      .map((r) => el('tr', {}, el('td', {}, r), el('td', {}, p.rejected[r].toLocaleString('en')), el('td', {}, String(p.rejected60[r] ?? 0))));
    if (p.lost > 0) rows.push(el('tr', { class: 'lost' }, el('td', {}, 'lost (shard died)'), el('td', {}, p.lost.toLocaleString('en')), el('td', {}, String(p.lost60))));
    if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: '3' }, 'none')));
    document.querySelector('#rejects tbody').replaceChildren(...rows);
  }

  /** The box of one metric: its charts, a choice of series for the percentiles, a table of sub-metrics. */
  function metricBox(name) {
    const id = `metric-${name}`;
    let box = $(id);
    if (box !== null) return box;
    const select = el('select', { id: `${id}-series` });
    select.addEventListener('change', () => {
      chosen.set(name, select.value);
      draw();
    });
    box = el(
      'div',
      { id, class: 'metric' },
      el('h3', {}, name, ' ', el('small', { id: `${id}-summary` })),
      el('div', { class: 'pair' }, el('div', { class: 'chart', id: `${id}-eps` }), el('div', { class: 'chart', id: `${id}-pct` })),
      el('label', {}, 'percentiles of ', select),
      el('table', { class: 'subs', id: `${id}-subs` }, el('thead', {}, el('tr', {}, ...['series', 'count', 'events/s', 'events/s (1 min)', 'p50', 'p95', 'p99'].map((h) => el('th', {}, h)))), el('tbody', {})),
    );
    $('metrics').append(box);
    return box;
  }

  function drawMetric(m) {
    const box = metricBox(m.name);
    const id = box.id;
    const pts = state.points;
    const seriesOf = (q, key) => {
      const mq = q.metrics.find((x) => x.name === m.name);
      if (mq === undefined) return undefined;
      return key === m.name ? mq.total : mq.subs.find((s) => s.name === key);
    };
    const shown = [m.total, ...m.subs];
    const keys = shown.map((s) => s.name);
    setText(`${id}-summary`, `${m.subMetrics} sub-metric${m.subMetrics === 1 ? '' : 's'}${m.subMetrics > m.subs.length ? `, the ${m.subs.length} busiest shown` : ''}`);
    chart(`${id}-eps`, `${m.name}: events/s`, keys, [xs(), ...keys.map((k) => pts.map((q) => seriesOf(q, k)?.eps ?? null))], 'events/s');
    const select = $(`${id}-series`);
    const want = chosen.get(m.name) ?? m.name;
    const pick = keys.includes(want) ? want : m.name;
    if ([...select.options].map((o) => o.value).join('\u0000') !== keys.join('\u0000')) {
      select.replaceChildren(...keys.map((k) => el('option', { value: k }, k)));
    }
    select.value = pick;
    chart(
      `${id}-pct`,
      `${pick}: duration, last ${state.windowSeconds} s`,
      ['p50', 'p95', 'p99'],
      [xs(), ...['p50', 'p95', 'p99'].map((f) => pts.map((q) => seriesOf(q, pick)?.[f] ?? null))],
      'µs',
    );
    $(`${id}-subs`).tBodies[0].replaceChildren(
      ...shown.map((s) => el('tr', {}, ...[s.name, s.count.toLocaleString('en'), num(s.eps), num(s.eps60), num(s.p50), num(s.p95), num(s.p99)].map((v) => el('td', {}, v)))),
    );
  }

  function drawRecent(list) {
    const ol = $('recent');
    if (list.length === 0) {
      ol.replaceChildren(el('li', { class: 'none' }, 'none'));
      return;
    }
    ol.replaceChildren(
      ...list.map((e) =>
        el(
          'li',
          { class: e.level },
          el('time', {}, new Date(e.t).toLocaleTimeString()),
          ` ${e.level} ${e.source}: ${e.message}`,
          e.count > 1 ? el('small', {}, ` (×${e.count})`) : '',
        ),
      ),
    );
  }

  function draw() {
    const p = state.points[state.points.length - 1];
    if (p === undefined) return;
    drawTotals(p);
    drawShards(p);
    drawRejects(p);
    const names = new Set(p.metrics.map((m) => m.name));
    for (const box of [...$('metrics').children]) if (!names.has(box.id.slice('metric-'.length))) box.remove();
    for (const m of p.metrics) drawMetric(m);
  }

  function connect() {
    const es = new EventSource('/v1/live');
    es.addEventListener('open', () => setText('conn', 'live'));
    es.addEventListener('error', () => setText('conn', 'reconnecting…'));
    es.addEventListener('init', (e) => {
      const m = JSON.parse(e.data);
      state.info = m.info;
      state.windowSeconds = m.windowSeconds;
      state.topSubMetrics = m.topSubMetrics;
      state.points = m.points;
      setText('readiness', m.info.readiness);
      drawRecent(m.recent);
      window.tallydLive.events++;
      setText('conn', 'live');
      draw();
    });
    es.addEventListener('point', (e) => {
      const m = JSON.parse(e.data);
      state.points.push(m.point);
      while (state.points.length > state.windowSeconds) state.points.shift();
      if (m.recent !== undefined) drawRecent(m.recent);
      window.tallydLive.events++;
      draw();
    });
  }

  window.addEventListener('resize', () => {
    for (const [id, c] of charts) {
      const box = $(id);
      if (box !== null) c.plot.setSize({ width: Math.max(300, box.clientWidth), height: HEIGHT });
    }
  });

  connect();
})();
