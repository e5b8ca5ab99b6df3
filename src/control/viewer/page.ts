/**
 * The log viewer's page: static HTML, the same for every caller, holding no data. Everything it
 * shows is fetched by viewer-script.ts and written with textContent, and the CSP (csp.ts) lets the
 * page run only its own script and style from this origin.
 */
export const VIEWER_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>standin · network log</title>
<link rel="stylesheet" href="/ui/log.css">
<script src="/ui/log.js" defer></script>
</head>
<body>
<header>
  <h1>standin <span>network log</span></h1>
  <p id="status" data-testid="status" role="status">connecting…</p>
</header>
<form id="key" hidden>
  <label>API key (auditor) <input name="key" type="password" autocomplete="off" data-testid="key"></label>
  <button type="submit">Open</button>
</form>
<section id="stats" data-testid="stats" aria-label="stats">
  <div class="cards">
    <div class="card"><b id="s-requests">–</b><span>requests</span></div>
    <div class="card refused"><b id="s-refused">–</b><span>refused or failed</span></div>
    <div class="card"><b id="s-in">–</b><span>bytes in</span></div>
    <div class="card"><b id="s-out">–</b><span>bytes out</span></div>
  </div>
  <div class="lists">
    <div><h2>sandboxes</h2><ol id="s-sandboxes"></ol></div>
    <div><h2>hosts</h2><ol id="s-hosts"></ol></div>
    <div><h2>refused by</h2><ol id="s-refusals"></ol></div>
    <div><h2>swaps per secret@version</h2><ol id="s-swaps"></ol></div>
  </div>
</section>
<form id="filters" data-testid="filters" autocomplete="off">
  <label>sandbox <input name="sandbox" size="12"></label>
  <label>host <input name="host" size="18" placeholder="*.example.com"></label>
  <label>decision <select name="decision">
    <option value="">any</option><option>allowed</option><option>swapped</option><option>denied</option><option>token_misuse</option><option>error</option>
  </select></label>
  <label>status <input name="status" size="4"></label>
  <label>secret <input name="secret" size="12" placeholder="name[@version]"></label>
  <label>method <input name="method" size="7"></label>
  <label>since <input name="since" size="8" placeholder="15m, ISO"></label>
  <label>until <input name="until" size="8"></label>
  <button type="submit">Apply</button>
</form>
<table id="log" data-testid="log">
  <thead><tr><th>time</th><th>sandbox</th><th>method</th><th>host</th><th>path</th><th>status</th><th>decision</th><th>secrets</th><th>duration</th><th>error</th></tr></thead>
  <tbody></tbody>
</table>
<p id="empty" hidden>No matching requests.</p>
</body>
</html>
`;

export const VIEWER_CSS = `
:root { color-scheme: light; --bg: #f7f7f5; --fg: #1d1d1b; --muted: #6b6b66; --line: #deded8; --ok: #1b7f3b; --bad: #b3261e; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 20px; font: 13px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: baseline; gap: 16px; }
h1 { font-size: 18px; margin: 0 0 8px; } h1 span { font-weight: 400; color: var(--muted); }
h2 { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 4px; }
#status { color: var(--muted); margin: 0; }
#status.error { color: var(--bad); }
.cards { display: flex; gap: 12px; margin: 8px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 20px; } .card span { color: var(--muted); }
.card.refused b { color: var(--bad); }
.lists { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 12px; }
.lists ol { margin: 0; padding-left: 18px; font-family: ui-monospace, monospace; font-size: 12px; }
form#filters { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: end; padding: 8px 0; border-top: 1px solid var(--line); }
form label { display: flex; flex-direction: column; font-size: 11px; color: var(--muted); }
input, select, button { font: inherit; padding: 3px 5px; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-size: 11px; text-transform: uppercase; color: var(--muted); background: #fbfbf9; }
td { font-family: ui-monospace, monospace; font-size: 12px; }
td.path { max-width: 420px; overflow: hidden; text-overflow: ellipsis; }
tr.row { cursor: pointer; } tr.row:hover { background: #f1f1ec; }
tr.new { animation: flash 1.5s ease-out; } @keyframes flash { from { background: #fff6c7; } to { background: transparent; } }
.d-swapped { color: var(--ok); font-weight: 600; } .d-denied, .d-token_misuse { color: var(--bad); font-weight: 600; } .d-error { color: var(--warn); font-weight: 600; }
tr.detail td { white-space: normal; background: #fbfbf9; font-family: system-ui, sans-serif; font-size: 13px; padding: 10px 16px; }
tr.detail p.summary { font-weight: 600; margin: 0 0 6px; }
tr.detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-family: ui-monospace, monospace; font-size: 12px; margin: 8px 0 0; }
tr.detail dt { color: var(--muted); } tr.detail dd { margin: 0; word-break: break-all; }
`;
