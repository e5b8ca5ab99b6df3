/**
 * The log viewer's script, served as /ui/log.js (the CSP allows no inline script). Plain browser
 * JavaScript, no build step. Every field of a request reaches the page through textContent, never
 * as markup, and class names are picked from fixed lists, never taken from a row.
 *
 * Authentication: on the control listener over TCP, an API key given in the URL fragment
 * (`#key=...`, which no server or proxy log sees; removed from the address bar at once) or typed
 * into the form, sent as a bearer token; under `standin log ui`, the session cookie the one-time
 * URL set, sent by the browser itself.
 */
export const VIEWER_JS = String.raw`'use strict';
(function () {
  var POLL_MS = 1000, STATS_MS = 5000, MAX_ROWS = 1000;
  var DECISIONS = ['allowed', 'swapped', 'denied', 'token_misuse', 'error'];
  var FILTERS = ['sandbox', 'host', 'decision', 'status', 'secret', 'method', 'since', 'until'];
  var key = null, lastId = 0, generation = 0, timer = null, statsTimer = null;
  var $ = function (id) { return document.getElementById(id); };

  var m = /^#key=([\x21-\x7e]{1,200})$/.exec(location.hash);
  if (m) { key = decodeURIComponent(m[1]); history.replaceState(null, '', location.pathname + location.search); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function status(text, isError) { var s = $('status'); s.textContent = text; s.className = isError ? 'error' : ''; }
  function params(extra) {
    var form = $('filters'), q = new URLSearchParams();
    FILTERS.forEach(function (f) { var v = form.elements[f].value.trim(); if (v !== '') q.set(f, v); });
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    return q.toString();
  }
  function api(path) {
    var headers = { accept: 'application/json' };
    if (key !== null) headers.authorization = 'Bearer ' + key;
    return fetch(path, { headers: headers, credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (r.status === 401) { $('key').hidden = false; throw new Error('an API key is needed (auditor role)'); }
        if (!r.ok) throw new Error((body && (body.detail || body.title)) || ('HTTP ' + r.status));
        return body;
      });
    });
  }
  function decisionClass(d) { return DECISIONS.indexOf(d) >= 0 ? 'd-' + d : ''; }
  function iso(ms) { try { return new Date(ms).toISOString().replace('T', ' ').replace('Z', ''); } catch (e) { return '-'; } }
  function dash(v) { return v === null || v === undefined || v === '' ? '-' : String(v); }

  function rowElement(r) {
    var tr = el('tr', null, 'row');
    tr.dataset.id = String(r.id);
    tr.dataset.requestId = String(r.requestId);
    tr.setAttribute('data-testid', 'row');
    [iso(r.at), dash(r.sandbox), r.method, r.host === '' ? '-' : r.host + ':' + r.port, dash(r.path),
     r.status === 0 ? '-' : r.status, r.decision, (r.secrets || []).join(', ') || '-', r.durationMs + ' ms', dash(r.errorCode)]
      .forEach(function (v, i) {
        var td = el('td', v, i === 4 ? 'path' : (i === 6 ? decisionClass(r.decision) : ''));
        if (i === 4) td.title = String(v);
        tr.appendChild(td);
      });
    tr.addEventListener('click', function () { toggle(tr); });
    return tr;
  }

  function toggle(tr) {
    var next = tr.nextElementSibling;
    if (next && next.classList.contains('detail')) { next.remove(); return; }
    var detail = el('tr', null, 'detail'), td = el('td');
    detail.setAttribute('data-testid', 'detail');
    td.colSpan = 10;
    td.appendChild(el('p', 'loading…'));
    detail.appendChild(td);
    tr.after(detail);
    api('/v1/log/explain/' + encodeURIComponent(tr.dataset.requestId)).then(function (v) {
      td.textContent = '';
      td.appendChild(el('p', v.explanation.summary, 'summary'));
      var happened = el('ul');
      v.explanation.happened.forEach(function (l) { happened.appendChild(el('li', l)); });
      td.appendChild(happened);
      if (v.explanation.fix.length > 0) {
        td.appendChild(el('p', 'To make it work:', 'summary'));
        var fix = el('ul');
        v.explanation.fix.forEach(function (l) { fix.appendChild(el('li', l)); });
        td.appendChild(fix);
      }
      var dl = el('dl');
      Object.keys(v.row).forEach(function (k) {
        var value = v.row[k];
        dl.appendChild(el('dt', k));
        dl.appendChild(el('dd', typeof value === 'object' && value !== null ? JSON.stringify(value) : dash(value)));
      });
      td.appendChild(dl);
    }).catch(function (e) { td.textContent = ''; td.appendChild(el('p', e.message)); });
  }

  function addRows(rows, live) {
    var body = $('log').tBodies[0];
    // Rows come oldest first; the table shows the newest on top.
    rows.forEach(function (r) {
      var tr = rowElement(r);
      if (live) tr.classList.add('new');
      body.insertBefore(tr, body.firstChild);
      if (r.id > lastId) lastId = r.id;
    });
    var all = body.querySelectorAll('tr.row');
    for (var i = MAX_ROWS; i < all.length; i++) {
      var n = all[i].nextElementSibling;
      if (n && n.classList.contains('detail')) n.remove();
      all[i].remove();
    }
    $('empty').hidden = body.querySelector('tr.row') !== null;
  }

  function list(id, items, withBytes) {
    var ol = $(id);
    ol.textContent = '';
    items.slice(0, 5).forEach(function (it) { ol.appendChild(el('li', it.key + ' · ' + it.requests + (withBytes ? ' · ' + it.bytesIn + ' B in' : ''))); });
    if (items.length === 0) ol.appendChild(el('li', '–'));
  }
  function loadStats() {
    var g = generation;
    api('/v1/log/stats?' + params()).then(function (s) {
      if (g !== generation) return;
      $('s-requests').textContent = String(s.total.requests);
      $('s-refused').textContent = String(s.total.refused);
      $('s-in').textContent = String(s.total.bytesIn);
      $('s-out').textContent = String(s.total.bytesOut);
      list('s-sandboxes', s.bySandbox, true);
      list('s-hosts', s.byHost, true);
      list('s-refusals', s.refusals, false);
      list('s-swaps', s.swaps, false);
    }).catch(function () { /* the table's poll reports errors */ });
  }

  function poll(g) {
    api('/v1/log?' + params({ afterId: String(lastId), limit: '1000' })).then(function (rows) {
      if (g !== generation) return;
      if (rows.length > 0) addRows(rows, true);
      status('live · ' + $('log').tBodies[0].querySelectorAll('tr.row').length + ' rows shown · updated ' + new Date().toLocaleTimeString(), false);
    }).catch(function (e) { if (g === generation) status(e.message, true); })
      .then(function () { if (g === generation) timer = setTimeout(function () { poll(g); }, POLL_MS); });
  }

  function reload() {
    generation++;
    var g = generation;
    clearTimeout(timer);
    clearInterval(statsTimer);
    lastId = 0;
    $('log').tBodies[0].textContent = '';
    api('/v1/log?' + params({ limit: '200' })).then(function (rows) {
      if (g !== generation) return;
      $('key').hidden = true;
      addRows(rows, false);
      status('live · ' + rows.length + ' rows shown', false);
      timer = setTimeout(function () { poll(g); }, POLL_MS);
      loadStats();
      statsTimer = setInterval(loadStats, STATS_MS);
    }).catch(function (e) { if (g === generation) status(e.message, true); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); reload(); });
    $('filters').addEventListener('change', function () { reload(); });
    $('key').addEventListener('submit', function (e) { e.preventDefault(); key = this.elements.key.value.trim() || null; this.elements.key.value = ''; reload(); });
    reload();
  });
})();
`;
