// jvdo's dashboard: polls the admin API (GET only) every second and draws what it reads.
// The token comes from the URL fragment (#token=...) or the form, stays in this tab's
// sessionStorage and goes to the API as "Authorization: Bearer" on each fetch (see Dashboard.java).
// window.jvdoDashboard holds the raw answers, the figures and the charts (uPlot instances, whose
// .data is what they draw) so a test can compare them with the API.
'use strict';
(() => {
  const POLL_MS = 1000;
  const KEEP = 600;                 // samples kept: 10 minutes at one a second
  const BLOCK = 4096;
  const KEY = 'jvdo.adminToken';
  const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf', '#bcbd22'];

  const state = {
    token: null,
    polls: 0,          // polls that read every figure
    statuses: [],      // HTTP status of the last API calls, oldest first
    lastStatus: null,
    error: null,
    samples: [],       // {t (seconds), stats, volumes, volumeStats: {name: stats}}
    figures: {},       // the tiles' numbers
    charts: {},        // uPlot instances by name
  };
  window.jvdoDashboard = state;

  const $ = (id) => document.getElementById(id);
  let timer = null;
  let generation = 0;   // a new start() ends the polls of the previous one

  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // ------------------------------------------------------------------ token

  function tokenFromFragment() {
    if (!location.hash) return;
    const t = new URLSearchParams(location.hash.slice(1)).get('token');
    history.replaceState(null, '', location.pathname + location.search);   // out of the address bar and history
    if (t) sessionStorage.setItem(KEY, t.trim());
  }

  function showLogin(why) {
    clearFigures();
    $('figures').hidden = true;
    $('forget').hidden = true;
    $('login').hidden = false;
    $('login-why').textContent = why;
    $('token').focus();
  }

  function forget(why) {
    generation++;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    state.token = null;
    sessionStorage.removeItem(KEY);
    showLogin(why);
  }

  // ------------------------------------------------------------------ the API

  async function get(path) {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    const r = await fetch(path, { headers, cache: 'no-store', credentials: 'omit', redirect: 'error' });
    state.lastStatus = r.status;
    state.statuses.push(r.status);
    if (state.statuses.length > 100) state.statuses.shift();
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new HttpError(r.status, (body && body.error) || ('HTTP ' + r.status));
    return body;
  }

  async function poll(gen) {
    timer = null;
    try {
      const stats = await get('/api/v1/stats');
      const list = await get('/api/v1/volumes');
      const volumeStats = {};
      for (const v of list.volumes) {
        try {
          volumeStats[v.name] = await get('/api/v1/volumes/' + encodeURIComponent(v.name) + '/stats');
        } catch (e) {
          if (e.status !== 404) throw e;   // deleted between the two calls
        }
      }
      // the cluster (serve --cluster): asked every 5th poll, since it asks every member
      if (!stats.cluster_member) state.cluster = false;
      else if (!state.cluster || state.polls % 5 === 0) state.cluster = await get('/api/v1/cluster');
      if (gen !== generation) return;      // forgotten or restarted meanwhile
      state.samples.push({ t: Date.now() / 1000, stats, volumes: list.volumes, volumeStats });
      if (state.samples.length > KEEP) state.samples.shift();
      state.polls++;
      state.error = null;
      $('login').hidden = true;
      $('figures').hidden = false;
      $('forget').hidden = false;
      draw();
      $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      if (gen !== generation) return;
      if (e.status === 401) {
        forget(state.token ? 'The token was refused (401): ' + e.message
                           : 'The figures need the admin token (the file admin.token in the pool\'s folder).');
        return;
      }
      state.error = String(e.message || e);
      $('status').textContent = 'cannot read the API: ' + state.error + ' (trying again)';
    }
    timer = setTimeout(() => poll(gen), POLL_MS);
  }

  function start(token) {
    state.token = token || null;
    $('login').hidden = true;
    if (timer !== null) clearTimeout(timer);
    poll(++generation);
  }

  // ------------------------------------------------------------------ figures

  function bytes(n) {
    if (n === null || n === undefined || !isFinite(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    let v = Math.abs(n);
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (n < 0 ? '-' : '') + (i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
  }

  function number(n, digits) {
    if (n === null || n === undefined || !isFinite(n)) return '–';
    return n.toFixed(digits);
  }

  function setFigure(name, value, text) {
    state.figures[name] = value;
    for (const el of document.querySelectorAll('[data-figure="' + name + '"]')) {
      el.dataset.value = value === null ? '' : String(value);
      el.textContent = text;
    }
  }

  function clearFigures() {
    state.samples = [];
    state.figures = {};
    for (const name of Object.keys(state.charts)) state.charts[name].destroy();
    state.charts = {};
    for (const el of document.querySelectorAll('[data-figure]')) {
      el.textContent = '';
      delete el.dataset.value;
    }
    $('volumes').tBodies[0].replaceChildren();
    $('status').textContent = '';
  }

  /** d(counter)/dt between two answers, or null when either lacks it or it went back (a restart). */
  function rate(prev, cur, dt, get) {
    if (!prev || !cur || !(dt > 0)) return null;
    const a = get(prev);
    const b = get(cur);
    if (a === undefined || b === undefined || b < a) return null;
    return (b - a) / dt;
  }

  function connectionsOf(sample) {
    let n = 0;
    for (const v of sample.volumes) n += v.connections;
    return n;
  }

  /** The series of every chart, from the samples. */
  function series() {
    const s = state.samples;
    const t = s.map((x) => x.t);
    const last = s[s.length - 1];
    const out = {};
    out.space = { labels: ['logical used', 'stored'], unit: bytes,
      data: [t, s.map((x) => x.stats.logical_blocks_used * BLOCK), s.map((x) => x.stats.data_blocks_used * BLOCK)] };
    out.saving = { labels: ['saved by dedupe', 'saved by compression', 'saved by zero blocks'], unit: bytes,
      data: [t].concat(['dedupe', 'compression', 'zero'].map((k) => s.map((x) => x.stats.saved_blocks[k] * BLOCK))) };

    const names = last.volumes.map((v) => v.name).sort();
    const perVolume = (key) => names.map((n) => s.map((x, i) => i === 0 ? null
      : rate(s[i - 1].volumeStats[n], x.volumeStats[n], x.t - s[i - 1].t, (v) => v[key])));
    const rw = (label) => names.flatMap((n) => [n + ' read' + label, n + ' write' + label]);
    const interleave = (reads, writes) => names.flatMap((n, i) => [reads[i], writes[i]]);
    out.throughput = { labels: rw('/s'), unit: bytes,
      data: [t].concat(interleave(perVolume('bytes_read'), perVolume('bytes_written'))) };
    out.iops = { labels: rw(' IOPS'), unit: (v) => number(v, 0),
      data: [t].concat(interleave(perVolume('bios_in_read'), perVolume('bios_in_write'))) };

    const stages = Object.keys(last.stats.stage_latency);
    out.latency = { labels: stages.map((x) => x + ' µs'), unit: (v) => number(v, 1),
      data: [t].concat(stages.map((st) => s.map((x, i) => {
        if (i === 0) return null;
        const a = s[i - 1].stats.stage_latency[st];
        const b = x.stats.stage_latency[st];
        if (!a || !b || b.count <= a.count) return null;
        return (b.sum_nanos - a.sum_nanos) / (b.count - a.count) / 1000;
      }))) };
    out.packer = { labels: ['fragments waiting', 'fragments per packed block written'], unit: (v) => number(v, 1),
      data: [t, s.map((x) => x.stats.compressed_fragments_in_packer), s.map((x, i) => {
        if (i === 0) return null;
        const blocks = x.stats.compressed_blocks_written - s[i - 1].stats.compressed_blocks_written;
        return blocks > 0 ? (x.stats.compressed_fragments_written - s[i - 1].stats.compressed_fragments_written) / blocks : null;
      })] };
    out.connections = { labels: ['NBD connections'], unit: (v) => number(v, 0), data: [t, s.map(connectionsOf)] };
    return out;
  }

  function chart(name, spec) {
    const el = $('chart-' + name);
    let u = state.charts[name];
    const key = spec.labels.join('\n');
    if (u && u.jvdoKey !== key) {
      u.destroy();
      u = null;
    }
    if (!u) {
      u = new uPlot({
        title: name,
        width: Math.max(300, el.clientWidth || 600),
        height: 220,
        series: [{}].concat(spec.labels.map((label, i) => ({
          label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false,
          value: (self, v) => spec.unit(v),
        }))),
        axes: [{}, { size: 84, values: (self, ticks) => ticks.map(spec.unit) }],
      }, spec.data, el);
      u.jvdoKey = key;
      state.charts[name] = u;
    } else {
      u.setData(spec.data);
    }
  }

  function draw() {
    const s = state.samples;
    const last = s[s.length - 1];
    const prev = s.length > 1 ? s[s.length - 2] : null;
    const st = last.stats;

    const mode = $('mode');
    const reason = st.read_only_reason || st.no_space_reason;
    setFigure('mode', st.mode, st.mode + (reason ? ': ' + reason : ''));
    mode.className = st.mode === 'normal' ? 'ok' : 'bad';

    const logical = st.logical_blocks_used * BLOCK;
    setFigure('logical_bytes', logical, bytes(logical));
    setFigure('physical_bytes', st.data_blocks_used * BLOCK, bytes(st.data_blocks_used * BLOCK));
    setFigure('saving_percent', st.saving_percent, st.saving_percent + ' %');
    const saved = st.saved_blocks;
    const total = saved.dedupe + saved.compression + saved.zero;
    for (const k of ['dedupe', 'compression', 'zero']) {
      const share = total > 0 ? ' (' + Math.round(saved[k] * 100 / total) + ' % of the saving)' : '';
      setFigure('saved_' + k + '_bytes', saved[k] * BLOCK, bytes(saved[k] * BLOCK) + share);
    }
    const conns = connectionsOf(last);
    setFigure('connections', conns, String(conns));
    setFigure('packer_waiting', st.compressed_fragments_in_packer, String(st.compressed_fragments_in_packer));
    const fill = st.compressed_blocks_written > 0 ? st.compressed_fragments_written / st.compressed_blocks_written : null;
    setFigure('packer_fill', fill, fill === null ? '–' : number(fill, 2) + ' (at most 14)');

    const rows = [];
    for (const v of last.volumes.slice().sort((a, b) => a.name < b.name ? -1 : 1)) {
      const cur = last.volumeStats[v.name];
      const before = prev && prev.volumeStats[v.name];
      const dt = prev ? last.t - prev.t : 0;
      const r = (key) => rate(before, cur, dt, (x) => x[key]);
      const cells = [v.name, v.engine, bytes(v.logical_size), bytes(v.logical_blocks_used * BLOCK), String(v.connections),
        bytes(r('bytes_read')), bytes(r('bytes_written')), number(r('bios_in_read'), 0), number(r('bios_in_write'), 0)];
      const tr = document.createElement('tr');
      tr.dataset.volume = v.name;
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.appendChild(td);
      }
      rows.push(tr);
    }
    $('volumes').tBodies[0].replaceChildren(...rows);

    const all = series();
    for (const name of Object.keys(all)) chart(name, all[name]);
    drawCluster();
  }

  function cells(tbody, rows) {
    tbody.replaceChildren(...rows.map((cs) => {
      const tr = document.createElement('tr');
      for (const c of cs) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.appendChild(td);
      }
      return tr;
    }));
  }

  function drawCluster() {
    const c = state.cluster;
    $('cluster').hidden = !c;
    if (!c) return;
    $('cluster-name').textContent = c.name + ': ' + c.members.length + ' member' + (c.members.length === 1 ? '' : 's');
    cells($('cluster-members').tBodies[0], c.members.map((m) => [m.address + (m.local ? ' (this one)' : ''),
      String(m.partitions ?? '–'), String(m.index_entries ?? '–'), bytes(m.index_memory_bytes || 0),
      bytes(m.index_backup_memory_bytes || 0)]));
    cells($('cluster-pools').tBodies[0], c.pools.map((p) => [p.uuid, p.owner_address, String(p.epoch), p.nbd || '–',
      (p.exports || []).join(' ')]));
    const i = c.index || {};
    $('cluster-index').textContent = 'index: ' + (i.lookups ?? 0) + ' lookups, ' + (i.hits ?? 0) + ' hits, '
      + (i.failures ?? 0) + ' failures' + (i.lookup_p99_us !== undefined ? ', p99 ' + number(i.lookup_p99_us, 0) + ' µs' : '')
      + ', ' + (i.backups ?? '–') + ' backup(s)';
  }

  window.addEventListener('resize', () => {
    for (const name of Object.keys(state.charts)) {
      const el = $('chart-' + name);
      state.charts[name].setSize({ width: Math.max(300, el.clientWidth || 600), height: 220 });
    }
  });

  // ------------------------------------------------------------------ start

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('token').value.trim();
    $('token').value = '';
    if (!t) return;
    sessionStorage.setItem(KEY, t);
    start(t);
  });
  $('forget').addEventListener('click', () => forget('The token was forgotten.'));

  if (typeof uPlot !== 'function') {
    $('status').textContent = 'the chart library (/ui/uPlot.iife.min.js) did not load';
    return;
  }
  tokenFromFragment();
  start(sessionStorage.getItem(KEY));
})();
