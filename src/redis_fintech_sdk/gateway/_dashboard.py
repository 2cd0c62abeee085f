"""The live dashboard: one self-contained HTML page (inline CSS and JS, no CDN)."""

from __future__ import annotations

__all__ = ["DASHBOARD_HTML"]

# The token (needed unless metrics are public) is read from the URL fragment
# (/dashboard#token=...), which browsers never send to a server or write to access logs,
# and kept in sessionStorage only. Values are inserted with textContent, never innerHTML.
DASHBOARD_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rfsdk gateway</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;background:#f7f7f9;color:#222}
h1{font-size:1.3em}.cards{display:flex;gap:1em;flex-wrap:wrap}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1.2em;min-width:9em}
.card b{display:block;font-size:1.6em}.ok{color:#0a7d32}.bad{color:#b3261e}
table{border-collapse:collapse;margin-top:1em;background:#fff}
td,th{border:1px solid #ddd;padding:.3em .8em;text-align:left}#err{color:#b3261e}
</style></head><body>
<h1>rfsdk gateway <span id="redis">&hellip;</span></h1>
<div class="cards">
<div class="card">clients<b id="clients">-</b></div>
<div class="card">subscriptions<b id="subs">-</b></div>
<div class="card">received<b id="received">-</b></div>
<div class="card">fanned out<b id="fanned">-</b></div>
<div class="card">dropped<b id="dropped">-</b></div>
<div class="card">gaps<b id="gaps">-</b></div>
<div class="card">bad frames<b id="bad">-</b></div>
<div class="card">refused (401/403)<b id="refused">-</b></div>
<div class="card">rate limited<b id="limited">-</b></div>
</div>
<table><thead><tr><th>kind</th><th>channel / pattern</th><th>clients</th></tr></thead>
<tbody id="rows"></tbody></table>
<p id="err"></p>
<script>
"use strict";
(function () {
  var m = /token=([^&]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem("rfsdk-token", decodeURIComponent(m[1]));
           history.replaceState(null, "", location.pathname); }
  var token = sessionStorage.getItem("rfsdk-token");
  function set(id, v) { document.getElementById(id).textContent = String(v); }
  function render(d) {
    set("clients", d.clients); set("subs", d.subscriptions.length);
    set("received", d.messages.received); set("fanned", d.messages.fanned_out);
    set("dropped", d.messages.dropped); set("gaps", d.messages.gaps);
    set("bad", d.messages.bad_frames);
    set("refused", d.access.unauthorized + d.access.forbidden);
    set("limited", Object.keys(d.access.rate_limited).reduce(function (n, k) {
      return n + d.access.rate_limited[k]; }, 0));
    var r = document.getElementById("redis");
    r.textContent = d.redis.ok ? "redis ok (" + d.redis.detail + ")" : "redis DOWN";
    r.className = d.redis.ok ? "ok" : "bad";
    var body = document.getElementById("rows");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    d.subscriptions.forEach(function (s) {
      var tr = document.createElement("tr");
      [s.kind, s.name, s.clients].forEach(function (v) {
        var td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    set("err", "");
  }
  function poll() {
    var headers = token ? {"Authorization": "Bearer " + token} : {};
    fetch("/v1/metrics", {headers: headers, cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(render)
      .catch(function (e) { set("err", "metrics: " + e.message +
        (token ? "" : " (open /dashboard#token=<admin token>)")); });
  }
  poll(); setInterval(poll, 1000);
})();
</script></body></html>
"""
