/* 网格员手机端 (/m/): 我的网格, 待办, 上报, 巡查.
 *
 * Writes never go straight to the server: each is an item of ONE queue in IndexedDB (store
 * "queue", in the order made), sent in order when the phone is online, each with its own
 * Idempotency-Key (a uuid kept with the item, so a resend after a lost answer is never a
 * duplicate) and the CSRF token of the login cookie (api/csrf.py). Photos are kept as Blobs.
 * An item for a case reported offline names the report's local ref and waits for its answer
 * (the case code). 4xx (a 409 too: the case changed meanwhile): the server's message is shown
 * on the case's card and in 待发送, the item kept for the worker to drop or retry; 5xx, no
 * network, 429 and the 409 "same key still running" (with Retry-After): retried with backoff.
 * A case card shows what of it still waits on the phone ("待发送 · 离线已保存", the action
 * and when it was made) from the queue itself, so the mark survives a reload and goes when
 * the item is sent. Data read from the server is kept in
 * localStorage so the screens show the last known state offline.
 * Whose: every queued item carries the user id of the login that made it (owner) and is sent
 * only while that same user is logged in; another account's items stay on the phone unsent
 * (only their number is shown, with a button to discard them) until their owner logs in again.
 * The cached reads belong to one login: they are wiped on logout (the 退出 button), when the
 * server says the login ended, and when another user logs in on this phone.
 * Coordinates: the browser's geolocation is WGS84 (EPSG:4326); every call names its crs. Over
 * AMap tiles the app asks the server for GCJ-02 and places the GPS position with the offset
 * grid of /me/cell (no copy of the GCJ-02 formula here: see toMap).
 */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const CRS = 'EPSG:4326';
  // the statuses of a case whose worker's part is done (mobile.DONE_STATUSES, written by the server)
  const DONE = (document.body.dataset.doneStatuses || '').split(' ').filter(Boolean);
  const DB_NAME = 'wangge-m';
  const FALLBACK_CATEGORIES = [  // only when /incidents/categories is a 404 (older server)
    ['fire_lane', '消防通道堵塞'], ['ebike_charging', '电动车违规充电'],
    ['garbage', '垃圾堆放'], ['road_damage', '道路破损'], ['other', '其他']];
  const PATROL_EVERY_S = 10, PATROL_EVERY_M = 20, SEGMENT_POINTS = 30, SEGMENT_S = 120;

  const state = {
    me: null, pos: null, cells: null, incidents: [], categories: [], keypoints: [],
    patrol: null, view: 'view-cell', queueN: 0, sending: false, retryTimer: null, backoff: 0,
  };

  // ------------------------------------------------------------------ small helpers
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;  // text is always a text node: server values are never parsed as HTML
  }
  function cookie(name) {
    const m = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
    return m ? decodeURIComponent(m.slice(name.length + 1)) : '';
  }
  function toast(msg) {
    const t = $('toast');
    t.textContent = msg; t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
  }
  function remember(key, value) {
    if (state.loggedOut) return;  // a read still in flight at logout: not kept
    try { localStorage.setItem('wangge-m.' + key, JSON.stringify(value)); } catch (e) { /* full */ }
  }
  function recall(key) {
    try { return JSON.parse(localStorage.getItem('wangge-m.' + key) || 'null'); } catch (e) { return null; }
  }
  const KEEP_ON_LOGOUT = ['amap'];  // device preferences, not data
  /** Forget every cached read of the last login (cases, cells, key points, patrol, me). */
  function wipeCache() {
    try {
      for (const k of Object.keys(localStorage)) {
        if (k.startsWith('wangge-m.') && !KEEP_ON_LOGOUT.includes(k.slice(9))) localStorage.removeItem(k);
      }
    } catch (e) { /* storage unavailable */ }
    state.cells = null; state.incidents = []; state.keypoints = []; state.patrol = null;
  }
  /** The user id queued items are tagged with: the current login's (null when unknown). */
  const owner = () => (state.me && state.me.authenticated && state.me.user_id != null ? state.me.user_id : null);
  const mine = (item) => owner() !== null && item.owner === owner();
  function fmtMetres(m) { return m >= 1000 ? (m / 1000).toFixed(1) + ' 公里' : Math.round(m) + ' 米'; }
  /** A time as the worker reads it, in China Standard Time (the phone's zone may differ):
   * "12-05 17:20" (withYear: "2026/12/05 17:20"). The one time format of the app. */
  function cst(when, withYear) {
    const opts = {timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit',
      minute: '2-digit', hour12: false};
    if (withYear) opts.year = 'numeric';
    return new Date(when).toLocaleString('zh-CN', opts);
  }
  const OVERDUE_CAP_DAYS = 30;  // longer than this: "30 天以上", the deadline date says the rest
  /** The deadline as the card shows it: its date and time (China Standard Time), what is
   * left or how late; lateness beyond OVERDUE_CAP_DAYS is not counted out day by day (the
   * demo's cases end 2026-10-31 and would read "已超时 563天"). The one rule of the app. */
  function countdown(dueAt) {
    if (!dueAt) return null;
    const due = new Date(dueAt);
    const ms = due.getTime() - Date.now();
    const mins = Math.round(Math.abs(ms) / 60000);
    const d = Math.floor(mins / 1440), h = Math.floor((mins % 1440) / 60), m = mins % 60;
    const txt = d >= OVERDUE_CAP_DAYS ? `${OVERDUE_CAP_DAYS} 天以上` :
      (d ? d + '天' : '') + (d || h ? h + '小时' : '') + (d ? '' : m + '分');
    const date = cst(due, true);
    return ms < 0 ? {text: `${date} · 已超时 ${txt}`, cls: 'late'} :
      {text: `${date} · 剩余 ${txt}`, cls: ms < 4 * 3600000 ? 'soon' : ''};
  }
  async function detail(res) {
    try {
      const body = await res.json();
      if (typeof body.detail === 'string') return body.detail;
      if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg || JSON.stringify(d)).join('; ');
      return JSON.stringify(body);
    } catch (e) { return `HTTP ${res.status}`; }
  }

  // ------------------------------------------------------------------ geometry (WGS84, metres)
  function project(lon, lat, lat0) {
    const k = Math.cos(lat0 * Math.PI / 180);
    return [lon * 111320 * k, lat * 110540];
  }
  function rings(geom) {
    if (!geom) return [];
    if (geom.type === 'Polygon') return [geom.coordinates];
    if (geom.type === 'MultiPolygon') return geom.coordinates;
    return [];
  }
  function inRing(pt, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > pt[1]) !== (yj > pt[1]) && pt[0] < (xj - xi) * (pt[1] - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  /** Is (lon, lat) inside the polygon geometry, and how far is it from its edge (metres)? */
  function whereIn(geom, lon, lat) {
    let inside = false, best = Infinity;
    const p = project(lon, lat, lat);
    for (const poly of rings(geom)) {
      if (inRing([lon, lat], poly[0]) && !poly.slice(1).some((h) => inRing([lon, lat], h))) inside = true;
      for (const ring of poly) {
        for (let i = 1; i < ring.length; i++) {
          const a = project(ring[i - 1][0], ring[i - 1][1], lat), b = project(ring[i][0], ring[i][1], lat);
          const dx = b[0] - a[0], dy = b[1] - a[1], len = dx * dx + dy * dy;
          const t = len ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len)) : 0;
          best = Math.min(best, Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy));
        }
      }
    }
    return {inside, edge_m: best};
  }
  function distance(lon1, lat1, lon2, lat2) {
    const a = project(lon1, lat1, lat1), b = project(lon2, lat2, lat1);
    return Math.hypot(a[0] - b[0], a[1] - b[1]);
  }

  // ------------------------------------------------------------------ server reads
  async function getJSON(path) {
    const res = await fetch(path, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
    if (res.status === 401) { toLogin(); throw new Error('login'); }
    if (!res.ok) { const e = new Error(await detail(res)); e.status = res.status; throw e; }
    return res.json();
  }
  function toLogin() {
    if (navigator.onLine) location.href = '/login?next=' + encodeURIComponent('/m/');
  }

  async function loadMe() {
    try {
      const me = await getJSON('/auth/me');
      if (!me.authenticated) { wipeCache(); toLogin(); return false; }
      const last = recall('me');
      if (last && last.user_id !== me.user_id) {  // another login on this phone: not her data
        wipeCache(); drawCells(true); renderPatrol();
      }
      state.me = me; remember('me', me);
    } catch (e) {
      state.me = recall('me');
    }
    if (state.me) $('who').textContent = (state.me.name || state.me.user) + ' · 网格员';
    return true;
  }

  // ------------------------------------------------------------------ IndexedDB queue
  let dbp = null;
  function db() {
    if (!dbp) {
      dbp = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = () => {
          req.result.createObjectStore('queue', {keyPath: 'id', autoIncrement: true});
          req.result.createObjectStore('refs', {keyPath: 'ref'});
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return dbp;
  }
  async function tx(store, mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction(store, mode);
      let out;
      t.oncomplete = () => resolve(out);
      t.onerror = () => reject(t.error);
      out = fn(t.objectStore(store));
      if (out && 'onsuccess' in out) {
        const r = out;
        r.onsuccess = () => { out = r.result; };
      }
    });
  }
  const Q = {
    all: () => tx('queue', 'readonly', (s) => s.getAll()),
    put: (item) => tx('queue', 'readwrite', (s) => s.put(item)),
    add: (item) => tx('queue', 'readwrite', (s) => s.add(item)),
    del: (id) => tx('queue', 'readwrite', (s) => s.delete(id)),
    ref: (ref) => tx('refs', 'readonly', (s) => s.get(ref)),
    setRef: (ref, answer) => tx('refs', 'readwrite', (s) => s.put({ref, answer})),
  };

  /** Put one write in the queue: {kind, label, method, path, json | files+fields, ref, needs}. */
  async function enqueue(item) {
    if (owner() === null) { toast('未登录, 无法保存'); return; }
    await Q.add({...item, owner: owner(), key: uuid(), state: 'waiting', tries: 0,
      created: new Date().toISOString()});
    await showQueue();
    flush();
  }

  function fill(text, answers) {
    // the case by id (a code may be held by two counties); a ref kept before ids were: its code
    return text.replace(/\{ref:([\w-]+)\}/g, (_, r) => encodeURIComponent(answers[r].id ?? answers[r].code));
  }

  async function sendOne(item) {
    const answers = {};
    for (const r of item.needs || []) {
      const got = await Q.ref(r);
      if (!got) return {wait: true};
      answers[r] = got.answer;
    }
    const headers = {'Idempotency-Key': item.key, 'X-CSRF-Token': cookie('wangge_csrf'),
      Accept: 'application/json'};
    let body;
    if (item.files) {
      body = new FormData();
      for (const [k, v] of Object.entries(item.fields || {})) body.append(k, v);
      for (const f of item.files) body.append('files', f.blob, f.name);
    } else {
      headers['Content-Type'] = 'application/json';
      const json = {...item.json};
      if (item.photoRefs) {  // "handled with photos": the ids the photo upload answered
        json.photo_ids = item.photoRefs.flatMap((r) => (answers[r].attachments || []).map((p) => p.id));
      }
      body = JSON.stringify(json);
    }
    const res = await fetch(fill(item.path, answers), {method: item.method, headers, body,
      credentials: 'same-origin'});
    return {res};
  }

  async function refsInError(item, items) {
    const bad = items.filter((i) => i.state === 'error' && i.ref).map((i) => i.ref);
    return (item.needs || []).some((r) => bad.includes(r));
  }

  /** Send the queue in order; stop on no network / 5xx (retried later with backoff). */
  async function flush() {
    if (state.sending) return;
    clearTimeout(state.retryTimer);
    if (!navigator.onLine) { showQueue(); return; }
    state.sending = true;
    let again = false;
    try {
      for (;;) {
        const items = (await Q.all()).filter(mine).sort((a, b) => a.id - b.id);
        const item = items.find((i) => i.state !== 'error');
        if (!item) break;
        if (await refsInError(item, items)) {
          item.state = 'error'; item.error = '所依赖的上报未成功, 请先处理该上报';
          await Q.put(item); continue;
        }
        let out;
        try { out = await sendOne(item); } catch (e) { again = true; break; }  // network
        if (out.wait) {  // its report was dropped without an answer
          item.state = 'error'; item.error = '所依赖的上报已删除, 无法发送';
          await Q.put(item); continue;
        }
        const res = out.res;
        if (res.ok) {
          const answer = await res.json().catch(() => ({}));
          if (item.ref) {  // only what a later item needs: the case id and code, the photo ids
            await Q.setRef(item.ref, {id: answer.id, code: answer.code,
              attachments: (answer.attachments || []).map((p) => ({id: p.id}))});
          }
          await Q.del(item.id);
          state.backoff = 0;
          document.body.dataset.sent = String(Number(document.body.dataset.sent || 0) + 1);
          if (item.kind === 'report' && answer.code) toast(`已上报: ${answer.code}`);
          continue;
        }
        if (res.status === 401 || (res.status === 403 && !cookie('wangge_csrf'))) {
          toast('登录已过期, 请重新登录后继续发送'); toLogin(); break;
        }
        // 409 with Retry-After: the same Idempotency-Key still running on the server; any
        // other 409 (the case moved on meanwhile) is the server's answer to this write
        const busy = res.status === 409 && res.headers.get('Retry-After') !== null;
        if (res.status >= 500 || busy || res.status === 429 || res.status === 408) {
          item.tries += 1; item.error = `服务器暂时不可用 (${res.status}), 稍后重试`;
          await Q.put(item); again = true; break;
        }
        item.state = 'error'; item.error = await detail(res); item.tries += 1;
        await Q.put(item);
      }
    } finally {
      state.sending = false;
    }
    await showQueue();
    if (again) {
      state.backoff = Math.min(60000, Math.max(2000, state.backoff * 2));
      state.retryTimer = setTimeout(flush, state.backoff);
    } else {
      refreshData();
    }
  }

  async function showQueue() {
    const every = await Q.all();
    const items = every.filter(mine).sort((a, b) => a.id - b.id);
    const others = every.filter((i) => !mine(i));
    document.body.dataset.others = String(others.length);
    $('queue-others').hidden = others.length === 0;
    $('queue-others-n').textContent = String(others.length);
    // the badge counts what still waits to be sent; an item the server refused is not
    // waiting (it is never sent again by itself): it is counted apart, as failed
    const errors = items.filter((i) => i.state === 'error').length;
    const waiting = items.length - errors;
    state.queueN = waiting;
    $('queue-n').textContent = String(waiting);
    $('queue-waiting').hidden = waiting === 0 && errors > 0;
    $('queue-failed-n').textContent = String(errors);
    $('queue-failed').hidden = errors === 0;
    document.body.dataset.queue = String(waiting);
    document.body.dataset.failed = String(errors);
    $('queue-btn').hidden = items.length === 0 && others.length === 0;  // others: the note
    $('queue-btn').classList.toggle('err', errors > 0);
    $('queue-btn').title = errors ? `${errors} 项发送失败, 点开查看原因 / ${errors} refused: open to see why` : '';
    const ul = $('queue');
    ul.replaceChildren();
    for (const i of items) {
      ul.append(el('li', {class: i.state === 'error' ? 'error' : 'pending'},
        el('div', {class: 'head'}, el('span', {}, i.label), el('span', {class: 'meta'},
          i.state === 'error' ? '发送失败' : '待发送')),
        el('div', {class: 'meta'}, `${i.method} ${i.path} · ${cst(i.created)}`),
        i.error ? el('div', {class: 'msg'}, i.error) : null,
        i.state === 'error' ? retryDrop(i) : null));
    }
    renderPendingReports(items);
    markCards(items);
  }
  /** The 重试 / 删除 buttons of an item the server refused. */
  function retryDrop(i) {
    return el('div', {class: 'actions'},
      el('button', {type: 'button', class: 'small', 'data-queue': 'retry', onclick: async () => {
        i.state = 'waiting'; i.error = null; await Q.put(i); showQueue(); flush();
      }}, '重试'),
      el('button', {type: 'button', class: 'small warn', 'data-queue': 'drop', onclick: async () => {
        if (!confirm(`删除「${i.label}」? 删除后不会再发送。`)) return;
        await Q.del(i.id); showQueue();
      }}, '删除'));
  }

  /** The case an item is for: its code (items made for a listed case), else none (a report,
   * a patrol, a check-in, or an item for a report still on the phone: see its ref). */
  function caseOf(item) {
    if (item.code) return item.code;
    const m = /^\/incidents\/([^/{]+)\//.exec(item.path || '');
    return m ? decodeURIComponent(m[1]) : null;
  }
  /** Mark each case card with what of it still waits on the phone or was refused: the action,
   * when it was made, and for a refusal the server's message with 重试 / 删除. Drawn from the
   * queue (IndexedDB), so it is there after a reload and gone once the item is sent. */
  function markCards(items) {
    for (const li of $('todo').querySelectorAll(':scope > li')) {
      li.querySelector(':scope > .queued')?.remove();
      const code = li.dataset.code, ref = li.dataset.ref;
      const its = items.filter((i) => i.kind !== 'report' &&
        ((code && caseOf(i) === code) || (ref && (i.needs || []).includes(ref))));
      const failed = its.filter((i) => i.state === 'error').length;
      li.classList.toggle('has-failed', failed > 0);
      // a step already waiting is not offered again (a second 签收处置 would be refused)
      for (const b of li.querySelectorAll(':scope > .actions button[data-held]')) {
        b.disabled = false; b.removeAttribute('data-held');
      }
      for (const i of its) {
        if (i.state === 'error' || !i.json || !i.json.to) continue;
        const b = li.querySelector(`:scope > .actions button[data-action="${CSS.escape(i.kind)}"]`);
        if (b) { b.disabled = true; b.setAttribute('data-held', ''); }
      }
      if (!its.length) continue;
      const box = el('div', {class: 'queued', 'data-waiting': String(its.length - failed),
        'data-failed': String(failed)});
      for (const i of its) {
        const bad = i.state === 'error';
        box.append(el('div', {class: 'q-item' + (bad ? ' failed' : ''), 'data-kind': i.kind,
          'data-state': bad ? 'error' : 'waiting'},
          el('span', {class: 'q-state'}, bad ? '发送失败' :
            (navigator.onLine ? '待发送 · 已保存在手机' : '待发送 · 离线已保存')),
          el('span', {class: 'q-what'}, ` · ${i.action || i.label} · ${cst(i.created)}`),
          bad && i.error ? el('div', {class: 'msg'}, '服务器: ' + i.error) :
            (i.error ? el('div', {class: 'meta'}, i.error) : null),
          bad ? retryDrop(i) : null));
      }
      const acts = li.querySelector(':scope > .actions');
      if (acts) acts.before(box); else li.append(box);
    }
    placeCards(items);
  }
  /** 待办 or 已处置: a case whose status the server counts as done by her (body data-done-statuses,
   * mobile.DONE_STATUSES from the case flow), or whose step to such a status waits on the
   * phone, leaves 待办 at once; back to 待办 when that step is refused or dropped. */
  function placeCards(items) {
    const todo = $('todo'), done = $('done');
    const queued = new Set(items.filter((i) => i.state !== 'error' && DONE.includes(i.kind))
      .map(caseOf).filter(Boolean));
    for (const li of [...todo.querySelectorAll(':scope > li[data-code]'),
      ...done.querySelectorAll(':scope > li[data-code]')]) {
      const isDone = DONE.includes(li.dataset.status) || queued.has(li.dataset.code);
      li.classList.toggle('done', isDone);
      if (isDone && li.parentNode !== done) done.append(li);
      else if (!isDone && li.parentNode !== todo) todo.append(li);
    }
    const n = done.querySelectorAll(':scope > li').length;
    $('done-box').hidden = n === 0;
    $('done-count').textContent = `${n} 件已处置, 等待指挥中心核查`;
    document.body.dataset.done = String(n);
    countTodo();
  }
  $('queue-others-drop').addEventListener('click', async () => {
    if (!confirm('删除本机上其他账号未发送的内容? 删除后无法恢复。')) return;
    for (const i of await Q.all()) if (!mine(i)) await Q.del(i.id);
    showQueue();
  });

  /** 退出: end the patrol, send what can be sent, end the session, forget the cached reads. */
  async function logout() {
    if (state.patrol) { await sendSegment(true); state.patrol = null; }
    await flush();
    const left = (await Q.all()).filter(mine).length;
    if (left && !confirm(`还有 ${left} 项未发送。退出后它们留在本机, 只在您再次登录后发送。仍要退出?`)) return;
    try {
      await fetch('/auth/logout', {method: 'POST', credentials: 'same-origin',
        headers: {'X-CSRF-Token': cookie('wangge_csrf'), Accept: 'application/json'}});
    } catch (e) { /* offline: the cookie goes at the next login; the data goes now */ }
    state.loggedOut = true; wipeCache(); state.me = null;
    location.href = '/login?next=' + encodeURIComponent('/m/');
  }
  $('logout').addEventListener('click', logout);

  // ------------------------------------------------------------------ online / offline
  function setNet() {
    const on = navigator.onLine;
    $('net').textContent = on ? '在线' : '离线';
    $('net').classList.toggle('off', !on);
  }
  window.addEventListener('online', () => { setNet(); state.backoff = 0; flush(); });
  window.addEventListener('offline', () => { setNet(); showQueue(); });

  // ------------------------------------------------------------------ views
  function show(view) {
    state.view = view;
    for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== view;
    for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('on', b.dataset.view === view);
    if (view === 'view-cell' && cellMap) setTimeout(() => cellMap.invalidateSize(), 0);
    if (view === 'view-report') openReport();
    if (view === 'view-todo') renderTodo();
    if (view === 'view-patrol') renderKeypoints();
  }
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => show(b.dataset.view));
  $('queue-btn').addEventListener('click', () => show('view-queue'));
  $('queue-send').addEventListener('click', () => { state.backoff = 0; flush(); });

  // ------------------------------------------------------------------ 我的网格
  let cellMap = null, cellLayer = null, aroundLayer = null, meMarker = null, tileLayer = null;
  const amapTiles = document.body.dataset.amap || '';
  const useAmap = () => $('amap').checked && !!amapTiles;

  // The map's CRS: GCJ-02 over AMap tiles, else the browser's WGS84. What comes from the
  // server is asked in it (crs=...: cells, cases); only the phone's own GPS position (WGS84)
  // is placed here, with the offset grid /me/cell answers in GCJ-02 (the one formula stays on
  // the server, geo/crs/transforms.offset_grid), interpolated: no copy of the formula.
  const mapCrs = () => (useAmap() ? 'GCJ02' : CRS);
  /** A WGS84 (GPS) point in ``crs`` (default the map's): [lon, lat], or null when that needs
   * the offset grid and none is at hand yet (AMap chosen and never online since). */
  function toMap(lon, lat, crs) {
    crs = crs || mapCrs();
    if (crs === CRS) return [lon, lat];
    const g = state.cells && state.cells.offset;
    if (!g || g.crs !== crs || g.nx < 2 || g.ny < 2) return null;
    const fx = Math.min(Math.max((lon - g.lon0) / g.step, 0), g.nx - 1);  // clamped at the edge
    const fy = Math.min(Math.max((lat - g.lat0) / g.step, 0), g.ny - 1);
    const i = Math.min(Math.floor(fx), g.nx - 2), j = Math.min(Math.floor(fy), g.ny - 2);
    const tx = fx - i, ty = fy - j;
    const at = (t) => (1 - tx) * (1 - ty) * t[j][i] + tx * (1 - ty) * t[j][i + 1] +
      (1 - tx) * ty * t[j + 1][i] + tx * ty * t[j + 1][i + 1];
    return [lon + at(g.dlon), lat + at(g.dlat)];
  }
  /** Her position as a Leaflet [lat, lng] on the map (null: unknown, or not placeable yet). */
  function posOnMap() {
    if (!state.pos) return null;
    const p = toMap(state.pos.lon, state.pos.lat);
    return p ? [p[1], p[0]] : null;
  }
  const MAX_ZOOM = 19;
  /** The AMap basemap of both maps: tiles exist to zoom 18, beyond it Leaflet enlarges them
   * (maxNativeZoom) instead of showing a blank grey map. */
  function amapLayer() {
    return L.tileLayer(amapTiles, {subdomains: '1234', maxNativeZoom: 18, maxZoom: MAX_ZOOM,
      attribution: '&copy; 高德地图 AMap', className: 'amap-tiles'});
  }

  function initCellMap() {
    cellMap = L.map('map', {zoomControl: true, attributionControl: true, zoomSnap: 0.5, maxZoom: MAX_ZOOM});
    cellMap.attributionControl.setPrefix(false);
    cellMap.setView([38.46, 111.13], 12);
    $('locate').addEventListener('click', () => {
      const ll = posOnMap();
      if (ll) cellMap.setView(ll, 17);
    });
    if (!amapTiles) $('amap').parentElement.hidden = true;
    $('amap').checked = recall('amap') === true;
    $('amap').addEventListener('change', () => {
      remember('amap', $('amap').checked); loadCells(true).then(loadIncidents);
    });
  }

  async function loadCells(redraw) {
    const crs = mapCrs();
    try {
      state.cells = await getJSON('/me/cell?crs=' + encodeURIComponent(crs));
      state.cells.crs_asked = crs;
      remember('cells', state.cells);
    } catch (e) {
      state.cells = state.cells || recall('cells');
    }
    drawCells(redraw);
  }

  function drawCells(fit) {
    if (!cellMap) return;
    if (!state.cells) {
      for (const layer of [cellLayer, aroundLayer]) if (layer) layer.remove();
      cellLayer = aroundLayer = null; return;
    }
    if (tileLayer) { cellMap.removeLayer(tileLayer); tileLayer = null; }
    if (useAmap()) {
      tileLayer = amapLayer().addTo(cellMap);
    }
    if (cellLayer) cellLayer.remove();
    if (aroundLayer) aroundLayer.remove();
    const cells = state.cells.cells || [];
    const feature = (geometry, props) => ({type: 'Feature', geometry, properties: props || {}});
    const named = (text) => (f, layer) => layer.bindTooltip(text(f.properties), {sticky: true});
    // around her cells: the neighbours' outlines with their names, compounds and cameras in hers
    aroundLayer = L.layerGroup([
      L.geoJSON({type: 'FeatureCollection', features: (state.cells.neighbours || []).map((n) =>
        feature(n.geometry, {name: n.name || n.code}))}, {interactive: true,
        style: {color: '#6b7785', weight: 1.5, dashArray: '4 4', fillOpacity: 0, className: 'neighbour'},
        onEachFeature: (f, layer) => layer.bindTooltip(f.properties.name, {permanent: true,
          direction: 'center', className: 'neighbour-name'})}),
      L.geoJSON({type: 'FeatureCollection', features: (state.cells.compounds || []).map((c) =>
        feature(c.geometry, {name: c.name, address: c.address}))}, {
        style: {color: '#2e8b57', weight: 1, fillOpacity: 0.12, className: 'compound'},
        onEachFeature: named((p) => p.name + (p.address ? ' · ' + p.address : ''))}),
      L.geoJSON({type: 'FeatureCollection', features: (state.cells.cameras || []).map((c) =>
        feature(c.geometry, {name: c.name, status: c.status}))}, {
        pointToLayer: (f, ll) => L.circleMarker(ll, {radius: 4, color: '#5b3fa0', weight: 1,
          fillOpacity: 0.9, className: 'camera'}),
        onEachFeature: named((p) => '摄像头 ' + (p.name || ''))}),
    ]).addTo(cellMap);
    cellLayer = L.geoJSON({type: 'FeatureCollection', features: cells.map((c) => ({
      type: 'Feature', geometry: c.geometry, properties: {code: c.code, name: c.name}}))}, {
      style: {color: '#1f6f8b', weight: 3, fillColor: '#1f6f8b', fillOpacity: 0.08},
    }).addTo(cellMap);
    if (state.cells.worker_name) $('who').textContent = state.cells.worker_name + ' · 网格员';
    if (cells.length && fit !== false) cellMap.fitBounds(cellLayer.getBounds(), {padding: [12, 12]});
    $('cell-info').textContent = cells.map((c) =>
      `${c.name || ''} ${c.code} · 未办结 ${c.open_incidents ?? '-'} 件, 超时 ${c.overdue_incidents ?? '-'} 件`).join('\n') ||
      (state.cells.message || '');
    updateWhere(); drawMe();
    if (reportMarker && state.view === 'view-report') { followHere(); showReportPos(); }
  }

  /** The position against her cells (computed on the phone: works offline). */
  function updateWhere() {
    const box = $('cell-status');
    if (!state.pos) { box.textContent = '正在定位… (请允许使用位置)'; return; }
    if (!state.cells || !(state.cells.cells || []).length) { box.textContent = '没有负责的网格'; return; }
    // cells drawn in GCJ-02 over AMap: compare the position placed the same way
    const at = toMap(state.pos.lon, state.pos.lat, state.cells.crs_asked || CRS);
    if (!at) { box.textContent = '高德底图: 联网后才能在此底图上定位'; return; }
    const [lon, lat] = at;
    let best = null;
    for (const c of state.cells.cells) {
      const w = whereIn(c.geometry, lon, lat);
      if (!best || (w.inside && !best.inside) || (w.inside === best.inside && w.edge_m < best.edge_m)) best = {...w, cell: c};
    }
    // the neighbouring cell across the nearest edge (or the one she stands in when outside)
    let nb = null;
    for (const n of state.cells.neighbours || []) {
      const w = whereIn(n.geometry, lon, lat);
      if (!nb || (w.inside && !nb.inside) || (w.inside === nb.inside && w.edge_m < nb.edge_m)) nb = {...w, cell: n};
    }
    const nbName = nb ? (nb.cell.name || nb.cell.code) : null;
    box.classList.toggle('in', best.inside);
    box.classList.toggle('out', !best.inside);
    box.textContent = best.inside ?
      `您在网格内 (${best.cell.name || best.cell.code}), ` +
        (nb && nb.edge_m <= best.edge_m + 5 ? `距 ${nbName} 边界 ${Math.round(best.edge_m)} 米` :
          `距网格边界 ${Math.round(best.edge_m)} 米`) :
      `您不在网格内` + (nb && nb.inside ? ` (现在 ${nbName})` : '') +
        `, 距网格 ${best.cell.name || best.cell.code} 边界 ${fmtMetres(best.edge_m)}`;
    box.dataset.inside = best.inside ? 'true' : 'false';
  }

  /** Whose cell she stands in, as the server answers it (GET /cells/at: the cell, its worker
   * as the public layer shows them, and caller.assigned_to_you, the one "is it mine"):
   * 是我的网格, or 不是我的网格，属于 X 网格员. Asked again after 10 s and 10 m; offline the
   * line above (her own cells, computed on the phone) stays. */
  let asked = null;
  async function lookupHere() {
    const p = state.pos;
    if (!p || !navigator.onLine) return;
    if (asked && Date.now() - asked.t < 10000 &&
        distance(asked.lon, asked.lat, p.lon, p.lat) < 10) return;
    asked = {t: Date.now(), lon: p.lon, lat: p.lat};
    const box = $('cell-mine');
    let text, mine = null;
    try {
      const f = await getJSON(`/cells/at?lon=${p.lon.toFixed(7)}&lat=${p.lat.toFixed(7)}&crs=${CRS}`);
      const c = f.properties || {};
      const cell = `${c.name || ''} ${c.code || ''}`.trim();
      mine = !!(c.caller && c.caller.assigned_to_you);
      const w = c.worker;
      text = mine ? `是我的网格: ${cell}` : `不是我的网格，属于 ` +
        (w ? `${w.name || '-'} 网格员${w.phone_masked ? ' (' + w.phone_masked + ')' : ''}` : '(暂无网格员)') +
        ` · ${cell}`;
    } catch (e) {
      if (e.status === 404) text = '此处不在任何网格内';
      else { asked = null; return; }  // no answer (network): ask again at the next position
    }
    box.textContent = text;
    box.hidden = false;
    box.dataset.mine = mine === null ? '' : String(mine);
    box.classList.toggle('in', mine === true);
    box.classList.toggle('out', mine !== true);
  }

  /** Her open cases on the map of her cell (the 待办 list, in the map's CRS). */
  let caseLayer = null, caseMarker = null;
  function drawIncidents() {
    if (!cellMap) return;
    if (caseLayer) caseLayer.remove();
    if ((state.incidentsCrs || CRS) !== mapCrs()) return;  // asked for the other basemap
    caseLayer = L.layerGroup(state.incidents.filter((i) => i.lon != null).map((i) =>
      L.circleMarker([i.lat, i.lon], {radius: 6, color: i.overdue ? '#b23b3b' : '#f4b400',
        weight: 2, fillOpacity: 0.8, className: 'case-dot'})
        .bindTooltip(`${i.category_name || i.category || '事件'} · ${i.code}`)
        .on('add', function () { this.getElement()?.setAttribute('data-code', i.code); }))).addTo(cellMap);
  }
  /** 在地图上看: the case on the map of her cell. */
  function showOnMap(inc) {
    show('view-cell');
    if ((state.incidentsCrs || CRS) !== mapCrs()) { toast('联网后再看 (底图已切换)'); return; }
    const ll = [inc.lat, inc.lon];
    if (caseMarker) caseMarker.remove();
    caseMarker = L.circleMarker(ll, {radius: 10, color: '#b23b3b', weight: 3, fillOpacity: 0.3})
      .bindTooltip(`${inc.category_name || '事件'} · ${inc.code}` +
        (inc.location_text ? ` · ${inc.location_text}` : ''), {permanent: true}).addTo(cellMap);
    setTimeout(() => cellMap.setView(ll, 17), 0);
  }

  function drawMe() {
    if (!cellMap) return;
    const ll = posOnMap();
    if (!ll) { if (meMarker) { meMarker.remove(); meMarker = null; } return; }
    if (!meMarker) {
      meMarker = L.marker(ll, {icon: L.divIcon({className: 'me-dot', iconSize: [16, 16]}),
        title: '我的位置', keyboard: false}).addTo(cellMap);
    } else meMarker.setLatLng(ll);
    meMarker.getElement()?.setAttribute('data-latlng', ll.map((v) => v.toFixed(7)).join(','));
  }

  // ------------------------------------------------------------------ position
  function onPosition(p) {
    state.pos = {lon: p.coords.longitude, lat: p.coords.latitude, acc: p.coords.accuracy,
      t: new Date(p.timestamp || Date.now())};
    drawMe(); updateWhere(); lookupHere(); patrolPoint(state.pos); renderKeypoints();
    if (!onPosition.first) { onPosition.first = true; loadIncidents(); }
    followHere(false);
  }
  function startGeo() {
    if (!navigator.geolocation) { $('cell-status').textContent = '此浏览器不能定位'; return; }
    navigator.geolocation.watchPosition(onPosition, (e) => {
      $('cell-status').textContent = '无法定位: ' + (e.code === 1 ? '未允许使用位置' : e.message);
    }, {enableHighAccuracy: true, maximumAge: 5000, timeout: 30000});
  }

  // ------------------------------------------------------------------ 待办
  async function loadIncidents() {
    const crs = mapCrs();  // the cases where the map draws them
    let q = '/me/incidents?crs=' + crs + '&limit=200';
    const at = state.pos ? toMap(state.pos.lon, state.pos.lat, crs) : null;
    if (at) q += `&lon=${at[0].toFixed(7)}&lat=${at[1].toFixed(7)}`;
    try {
      const got = await getJSON(q);
      state.incidents = got.items || []; state.incidentsCrs = crs;
      remember('incidents', state.incidents); remember('incidentsCrs', crs);
    } catch (e) {
      if (!state.incidents.length) {
        state.incidents = recall('incidents') || []; state.incidentsCrs = recall('incidentsCrs') || CRS;
      }
    }
    renderTodo(); drawIncidents();
  }

  function renderTodo() {
    const ul = $('todo');
    // An action form she is filling survives a refresh of the list (new data, a new position):
    // it moves, typed text and focus included, to the case's new card.
    const open = new Map();
    for (const f of ul.querySelectorAll('li > .actform')) open.set(f.parentElement.dataset.code, f);
    const focused = document.activeElement;
    ul.replaceChildren();
    $('done').replaceChildren();
    const items = state.incidents.slice();
    const at = state.pos ? toMap(state.pos.lon, state.pos.lat, state.incidentsCrs || CRS) : null;
    if (at) {  // nearest first from where she stands now (also offline), in the cases' CRS
      for (const i of items) if (i.lon != null) i._d = distance(at[0], at[1], i.lon, i.lat);
      items.sort((a, b) => (a._d ?? a.distance_m ?? 1e12) - (b._d ?? b.distance_m ?? 1e12));
    }
    for (const inc of items) {
      const card = caseCard(inc);
      if (open.has(inc.code) && !DONE.includes(inc.status)) card.append(open.get(inc.code));
      (DONE.includes(inc.status) ? $('done') : ul).append(card);
    }
    if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus();
    Q.all().then((all) => {
      const its = all.filter(mine).sort((a, b) => a.id - b.id);
      renderPendingReports(its); markCards(its);
    });
  }

  function caseCard(inc) {
    const left = countdown(inc.due_at);
    const dist = inc._d ?? inc.distance_m;
    const li = el('li', {'data-code': inc.code, 'data-status': inc.status || ''},
      el('div', {class: 'head'}, el('span', {}, inc.category_name || inc.category || '事件'),
        el('span', {class: 'meta'}, inc.status_zh || inc.status || '')),
      el('div', {class: 'meta'}, inc.code + (dist != null ? ` · ${fmtMetres(dist)}` : '')),
      inc.location_text ? el('div', {class: 'place'}, '地点: ' + inc.location_text) : null,
      inc.description ? el('div', {class: 'desc'}, inc.description) : null,
      left ? el('div', {class: 'due ' + left.cls}, '期限: ' + left.text) : null,
      ...(inc.pending_requests || []).map((r) => el('div', {class: 'request'},
        `「${r.kind_label || r.kind}」${r.minutes_label ? ' ' + r.minutes_label : ''} 已提交, ` +
        '等待指挥中心审批')));
    const acts = el('div', {class: 'actions'});
    if (inc.lon != null && inc.lat != null) {
      acts.append(el('button', {type: 'button', class: 'small', 'data-action': 'map',
        onclick: () => showOnMap(inc)}, '在地图上看'));
    }
    for (const a of inc.allowed_actions || []) {
      acts.append(el('button', {type: 'button', class: 'small', 'data-action': a.action,
        onclick: () => actionForm(li, inc, a)}, a.label || a.action));
    }
    li.append(acts);
    return li;
  }

  /** The form of one allowed action: text fields for empty strings of its body (note,
   * reason), numbers as given (minutes), photos for the photo and handled actions. */
  function actionForm(li, inc, a) {
    li.querySelector('.actform')?.remove();
    const form = el('form', {class: 'actform'});
    const fields = {};
    const body = a.body || null;
    const photos = a.action === 'photo' || a.action === 'handled';
    if (body) {
      for (const [k, v] of Object.entries(body)) {
        if (v === '' || v === null) {
          const must = (a.required || []).includes(k);
          fields[k] = el('textarea', {rows: 2, name: k, required: must, minlength: (a.min_length || {})[k] ?? null,
            placeholder: k === 'reason' ? '原因 (必填)' : (a.action === 'handled' ?
              '处置情况 (必填), 如: 已清理, 物业已整改' : '内容')});
          form.append(el('label', {}, k === 'reason' ? '原因' : (a.action === 'handled' ? '处置说明' : '备注')),
            fields[k]);
        } else if (typeof v === 'number' && a.choices && a.choices[k]) {  // in working days/hours
          fields[k] = el('select', {name: k}, ...a.choices[k].map((c) =>
            el('option', {value: String(c.value), selected: c.value === v}, c.label)));
          form.append(el('label', {}, k === 'minutes' ? '延期多久 (按工作时间计)' : k), fields[k]);
        } else if (typeof v === 'number') {
          fields[k] = el('input', {type: 'number', name: k, value: String(v), min: '1'});
          form.append(el('label', {}, k), fields[k]);
        }
      }
    }
    let file = null;
    if (photos) {
      file = el('input', {type: 'file', accept: 'image/*', capture: 'environment', multiple: true,
        name: 'photo', required: a.action === 'photo'});
      form.append(el('label', {}, a.action === 'handled' ? '处置照片' : '照片'), file);
    }
    form.append(el('div', {class: 'row'},
      el('button', {type: 'submit', class: 'small'}, '确定: ' + (a.label || a.action)),
      el('button', {type: 'button', class: 'small warn', onclick: () => form.remove()}, '取消')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      await doAction(inc, a, fields, file ? Array.from(file.files) : []);
      form.remove();
    });
    li.append(form);
    (Object.values(fields)[0] || file)?.focus?.();
  }

  async function doAction(inc, a, fields, files) {
    const label = `${a.label || a.action} · ${inc.code || '待上报事件'}`;
    const needs = inc.ref ? [inc.ref] : [];
    const path = a.path;
    const photoRefs = [];
    if (files.length) {
      const ref = uuid();
      photoRefs.push(ref);
      const target = inc.ref ? `/incidents/{ref:${inc.ref}}/attachments` :
        (a.action === 'photo' ? a.path : `/incidents/${encodeURIComponent(inc.id ?? inc.code)}/attachments`);
      await enqueue({kind: 'photo', label: `照片 ${files.length} 张 · ${inc.code || '待上报事件'}`,
        action: `照片 ${files.length} 张`, code: inc.code || null,
        method: 'POST', path: target, files: files.map((f) => ({blob: f, name: f.name || 'photo.jpg'})),
        fields: {}, ref, needs});
    }
    if (a.action === 'photo') { toast('照片已加入待发送'); return; }
    const json = {...(a.body || {})};
    for (const [k, input] of Object.entries(fields)) {
      json[k] = (input.type === 'number' || input.tagName === 'SELECT' && /^\d+$/.test(input.value)) ?
        Number(input.value) : input.value.trim();
    }
    if (a.action === 'handled' && !json.note) delete json.note;
    const withPhotos = a.action === 'handled' ? photoRefs : [];
    await enqueue({kind: a.action, label, action: a.label || a.action, code: inc.code || null,
      method: a.method || 'POST', path, json,
      needs: [...needs, ...withPhotos], photoRefs: a.action === 'handled' && photoRefs.length ? photoRefs : undefined});
    toast(navigator.onLine ? `${a.label || a.action}: 正在发送` : `${a.label || a.action}: 已存入手机, 有网后发送`);
  }

  /** Reports still in the queue appear in 待办 too, so a note or photo can follow them. */
  function renderPendingReports(items) {
    const ul = $('todo');
    for (const li of ul.querySelectorAll('li.pending')) li.remove();
    for (const i of items.filter((x) => x.kind === 'report')) {
      const inc = {ref: i.ref, code: null, category_name: i.categoryName, description: i.json.description};
      const actions = [
        {action: 'note', label: '添加备注', method: 'POST', path: `/incidents/{ref:${i.ref}}/notes`, body: {note: ''}},
        {action: 'photo', label: '上传照片', method: 'POST', path: `/incidents/{ref:${i.ref}}/attachments`, body: null}];
      const li = el('li', {class: i.state === 'error' ? 'pending failed' : 'pending', 'data-ref': i.ref},
        el('div', {class: 'head'}, el('span', {}, i.categoryName || i.json.category),
          el('span', {class: 'meta'}, i.state === 'error' ? '上报失败' : '待发送的上报')),
        i.json.description ? el('div', {class: 'desc'}, i.json.description) : null);
      const acts = el('div', {class: 'actions'});
      for (const a of actions) acts.append(el('button', {type: 'button', class: 'small',
        'data-action': a.action, onclick: () => actionForm(li, inc, a)}, a.label));
      li.append(acts);
      ul.prepend(li);
    }
    countTodo();
  }
  /** The one count of 待办: the cards shown (cases, and reports still on the phone). */
  function countTodo() {
    const all = $('todo').querySelectorAll(':scope > li').length;
    const waiting = $('todo').querySelectorAll(':scope > li.pending:not(.failed)').length;
    const failed = $('todo').querySelectorAll(':scope > li.pending.failed').length;
    $('todo-count').textContent = `${all} 件待办` + (waiting ? ` (其中 ${waiting} 件待发送)` : '') +
      (failed ? ` (${failed} 件上报失败)` : '') +
      (state.pos ? ', 由近及远' : '');
    document.body.dataset.todo = String(all);
  }

  // ------------------------------------------------------------------ 上报
  let reportMap = null, reportMarker = null, nearbyTimer = null;
  async function loadCategories() {
    try {
      const got = await getJSON('/incidents/categories');
      state.categories = (got.items || []).map((c) => [c.code, c.name]);
      remember('categories', state.categories);
    } catch (e) {
      state.categories = recall('categories') || (e.status === 404 ? FALLBACK_CATEGORIES : []);
    }
    const sel = $('r-cat');
    const keep = sel.value;
    sel.replaceChildren(el('option', {value: ''}, '请选择类别'),
      ...state.categories.map(([code, name]) => el('option', {value: code}, name || code)));
    if (keep) sel.value = keep;
  }

  // The report map draws and sends in the CRS of its basemap: GCJ-02 over AMap tiles (the
  // server takes crs=GCJ02), else the browser's WGS84; rebuilt when the basemap changes.
  let reportCrs = null;
  const here = posOnMap;
  function openReport() {
    const crs = mapCrs();
    if (reportMap && reportCrs !== crs) { reportMap.remove(); reportMap = null; reportMarker = null; }
    if (!reportMap) {
      reportCrs = crs;
      reportMap = L.map('r-map', {attributionControl: false, zoomSnap: 0.5, maxZoom: MAX_ZOOM});
      if (crs === 'GCJ02') amapLayer().addTo(reportMap);
      const start = here() || [38.46, 111.13];
      reportMap.setView(start, state.pos ? 17 : 12);
      if (state.cells && (state.cells.crs_asked || CRS) === crs) L.geoJSON({type: 'FeatureCollection', features: (state.cells.cells || []).map((c) => ({
        type: 'Feature', geometry: c.geometry, properties: {}}))},
      {style: {color: '#1f6f8b', weight: 2, fillOpacity: 0.05}}).addTo(reportMap);
      reportMarker = L.marker(start, {draggable: true, title: '事件位置 (可拖动)'}).addTo(reportMap);
      reportMarker.on('dragend', () => { reportMarker.moved = true; showReportPos(); checkNearby(); });
    }
    setTimeout(() => reportMap.invalidateSize(), 0);
    followHere();
    showReportPos(); checkNearby();
  }
  /** The report marker at her position unless moved by hand (none yet over AMap before the
   * offset grid has come: the marker waits where it is). */
  function followHere(zoom) {
    const ll = here();
    if (!reportMarker || reportMarker.moved || !ll) return;
    reportMarker.setLatLng(ll);
    if (zoom !== false) reportMap.setView(ll, 17);
  }
  function showReportPos() {
    const ll = reportMarker.getLatLng();
    $('r-pos').textContent = `${ll.lng.toFixed(6)}, ${ll.lat.toFixed(6)} (${reportCrs === 'GCJ02' ? 'GCJ-02' : 'WGS84'})` +
      (reportMarker.moved ? ' · 已手动调整' : ' · 来自定位');
  }
  function checkNearby() {
    clearTimeout(nearbyTimer);
    nearbyTimer = setTimeout(async () => {
      const box = $('r-nearby');
      const cat = $('r-cat').value;
      if (!cat || !navigator.onLine || !reportMarker) { box.hidden = true; return; }
      const ll = reportMarker.getLatLng();
      try {
        const got = await getJSON(`/incidents/nearby?lon=${ll.lng.toFixed(7)}&lat=${ll.lat.toFixed(7)}` +
          `&crs=${reportCrs}&category=${encodeURIComponent(cat)}`);
        const items = got.items || [];
        box.replaceChildren(el('b', {}, items.length ? `附近已有 ${items.length} 件同类事件, 可能重复:` : '附近没有同类事件'),
          ...items.slice(0, 5).map((i) => el('div', {}, `${i.code} · ${i.category_name || ''} · ` +
            `${i.status_zh || ''} · ${fmtMetres(i.distance_m || 0)}`)));
        box.hidden = false;
      } catch (e) { box.hidden = true; }
    }, 300);
  }
  $('r-cat').addEventListener('change', checkNearby);
  $('r-photo').addEventListener('change', () => {
    $('r-thumbs').replaceChildren(...Array.from($('r-photo').files).map((f) =>
      el('img', {src: URL.createObjectURL(f), alt: f.name})));
  });
  $('report-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const cat = $('r-cat').value;
    if (!cat) { toast('请选择类别'); return; }
    if (!reportMarker) { toast('还没有位置'); return; }
    const ll = reportMarker.getLatLng();
    const ref = uuid();
    const categoryName = $('r-cat').selectedOptions[0]?.textContent || cat;
    const files = Array.from($('r-photo').files);
    await enqueue({kind: 'report', label: `上报: ${categoryName}`, method: 'POST', path: '/incidents',
      json: {category: cat, lon: +ll.lng.toFixed(7), lat: +ll.lat.toFixed(7), crs: reportCrs,
        description: $('r-note').value.trim() || null, reported_at: new Date().toISOString()},
      ref, categoryName});
    if (files.length) {
      await enqueue({kind: 'photo', label: `照片 ${files.length} 张 · 上报: ${categoryName}`, method: 'POST',
        path: `/incidents/{ref:${ref}}/attachments`, files: files.map((f) => ({blob: f, name: f.name || 'photo.jpg'})),
        fields: {}, needs: [ref], ref: uuid()});
    }
    $('report-form').reset(); $('r-thumbs').replaceChildren(); $('r-nearby').hidden = true;
    if (reportMarker) reportMarker.moved = false;
    toast(navigator.onLine ? '正在上报…' : '已存入手机, 有网后自动上报');
    show('view-todo');
  });

  // ------------------------------------------------------------------ 巡查
  function patrolPoint(pos) {
    const p = state.patrol;
    if (!p) return;
    const last = p.points[p.points.length - 1] || p.lastSent;
    if (last) {
      const dt = (pos.t - new Date(last.t)) / 1000;
      if (dt <= 0) return;  // time order
      if (dt < PATROL_EVERY_S && distance(last.lon, last.lat, pos.lon, pos.lat) < PATROL_EVERY_M) return;
    }
    p.points.push({t: pos.t.toISOString(), lon: +pos.lon.toFixed(7), lat: +pos.lat.toFixed(7),
      accuracy_m: pos.acc != null ? Math.round(pos.acc * 10) / 10 : null});
    p.count += 1;
    remember('patrol', p);
    if (p.points.length >= SEGMENT_POINTS || (Date.now() - p.segmentStart) / 1000 >= SEGMENT_S) sendSegment(false);
    renderPatrol();
  }
  async function sendSegment(end) {
    const p = state.patrol;
    if (!p) return;
    const points = p.points;
    if (!points.length && !end) return;
    p.lastSent = points[points.length - 1] || p.lastSent;
    p.points = []; p.segmentStart = Date.now(); p.segments += 1;
    remember('patrol', end ? null : p);
    await enqueue({kind: 'patrol', label: `巡查轨迹 第 ${p.segments} 段 (${points.length} 个点)` + (end ? ' · 结束' : ''),
      method: 'POST', path: '/me/patrols', json: {client_id: p.client_id, started_at: p.started_at,
        ended_at: end ? new Date().toISOString() : null, crs: CRS, points}});
  }
  function renderPatrol() {
    const p = state.patrol;
    $('patrol-btn').textContent = p ? '结束巡查' : '开始巡查';
    $('patrol-status').textContent = p ?
      `巡查中, 开始于 ${p.started_at.slice(11, 16)}, 已记录 ${p.count} 个点, 已分 ${p.segments} 段` : '未在巡查';
  }
  $('patrol-btn').addEventListener('click', async () => {
    if (state.patrol) {
      await sendSegment(true);
      state.patrol = null; remember('patrol', null);
      toast(navigator.onLine ? '巡查已结束, 正在发送轨迹' : '巡查已结束, 轨迹存入手机, 有网后发送');
    } else {
      state.patrol = {client_id: uuid(), started_at: new Date().toISOString(), points: [],
        count: 0, segments: 0, segmentStart: Date.now(), lastSent: null};
      if (state.pos) patrolPoint({...state.pos, t: new Date()});
      remember('patrol', state.patrol);
    }
    renderPatrol();
  });

  async function loadKeypoints() {
    try {
      const got = await getJSON('/me/key-points?crs=' + CRS);
      state.keypoints = got.items || [];
      remember('keypoints', state.keypoints);
    } catch (e) {
      state.keypoints = recall('keypoints') || [];
    }
    renderKeypoints();
  }
  function renderKeypoints() {
    if (state.view !== 'view-patrol') return;
    const ul = $('keypoints');
    const items = state.keypoints.map((k) => ({...k, _d: state.pos ? distance(state.pos.lon, state.pos.lat, k.lon, k.lat) : null}));
    items.sort((a, b) => (a._d ?? 1e12) - (b._d ?? 1e12));
    ul.replaceChildren(...items.slice(0, 50).map((k) => {
      const near = k._d != null && k._d <= k.radius_m;
      return el('li', {'data-key-point': String(k.id)},
        el('div', {class: 'head'}, el('span', {}, k.name || k.kind_label || '关键点位'),
          el('span', {class: 'meta'}, k.kind_label || '')),
        el('div', {class: 'meta'}, (k._d != null ? `距离 ${fmtMetres(k._d)} · ` : '') +
          `签到半径 ${Math.round(k.radius_m)} 米 · 本周 ${k.checkins_this_week ?? 0}/${k.due_per_week ?? '-'}`),
        el('div', {class: 'actions'}, el('button', {type: 'button', class: 'small', disabled: !near,
          onclick: () => checkIn(k)}, near ? '签到' : '走近后可签到')));
    }));
    if (!items.length) ul.append(el('li', {class: 'muted'}, '没有关键点位'));
  }
  async function checkIn(k) {
    if (!state.pos) return;
    await enqueue({kind: 'checkin', label: `签到: ${k.name || k.id}`, method: 'POST', path: '/me/checkins',
      json: {key_point_id: k.id, lon: +state.pos.lon.toFixed(7), lat: +state.pos.lat.toFixed(7), crs: CRS,
        at: new Date().toISOString()}});
    k.checkins_this_week = (k.checkins_this_week || 0) + 1;
    toast(navigator.onLine ? '正在签到' : '签到已存入手机, 有网后发送');
    renderKeypoints();
  }

  // ------------------------------------------------------------------ start
  async function refreshData() {
    if (!navigator.onLine) return;
    await Promise.all([loadCells(false).then(loadIncidents), loadKeypoints()]);
  }
  $('todo-refresh').addEventListener('click', loadIncidents);

  async function start() {
    setNet();
    state.patrol = recall('patrol');
    renderPatrol();
    initCellMap();
    state.cells = recall('cells');
    state.incidents = recall('incidents') || [];
    state.incidentsCrs = recall('incidentsCrs') || CRS;
    drawCells(true);
    if (!(await loadMe())) return;  // on the way to the login form
    startGeo();
    await Promise.all([loadCells(true).then(loadIncidents), loadCategories(), loadKeypoints()]);
    await showQueue();
    flush();
    document.body.dataset.ready = 'true';
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.register('/m/sw.js', {scope: '/m/'}).catch((e) => console.warn('service worker', e));
    }
  }
  start();
})();
