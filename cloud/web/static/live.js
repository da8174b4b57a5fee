/* fingerpos live feeds: one WebSocket per page, reconnecting with back-off.
   fpLive(path, onMessage) calls onMessage({kind, data}) for every feed message and
   onMessage({kind: "reconnected"}) after a reconnect (the page then refreshes what it
   may have missed). fpApi(method, url) calls the JSON API with the session's CSRF token. */
"use strict";
(function () {
  var statusEl = document.getElementById("live-status");
  function status(text, ok) {
    if (!statusEl) return;
    statusEl.hidden = false;
    statusEl.textContent = text;
    statusEl.className = "live-status " + (ok ? "ok" : "down");
    document.body.dataset.live = ok ? "1" : "0";
  }
  window.fpLive = function (path, onMessage) {
    var delay = 500, opened = false;
    function connect() {
      var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
      var ws = new WebSocket(url);
      ws.onopen = function () {
        status("live", true);
        if (opened) onMessage({kind: "reconnected", data: {}});
        opened = true;
        delay = 500;
      };
      ws.onmessage = function (ev) {
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg && typeof msg.kind === "string") onMessage(msg);
      };
      ws.onclose = function () {
        status("reconnecting…", false);
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    connect();
  };
  window.fpApi = function (method, url) {
    var token = document.querySelector('meta[name="csrf-token"]').content;
    return fetch(url, {method: method, credentials: "same-origin",
                       headers: {"X-CSRF-Token": token, "Accept": "application/json"}})
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
          return body;
        });
      });
  };
  /* Text only: every value from the feed is set as textContent, never as HTML. */
  window.fpEl = function (tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined && text !== null) el.textContent = String(text);
    return el;
  };
  window.fpState = function (state) {
    return fpEl("span", "state state-" + state, String(state).replace(/_/g, " "));
  };
  var EXP = {JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3};
  window.fpMoney = function (minor, currency) {
    var exp = EXP[currency] === undefined ? 2 : EXP[currency];
    var sign = minor < 0 ? "-" : "", abs = Math.abs(minor), div = Math.pow(10, exp);
    var whole = Math.floor(abs / div), frac = String(abs % div);
    while (frac.length < exp) frac = "0" + frac;
    return sign + whole + (exp ? "." + frac : "") + " " + currency;
  };
  window.fpWhen = function (iso) {
    if (!iso) return "-";
    var d = new Date(iso);
    if (isNaN(d)) return String(iso);
    function p(n) { return (n < 10 ? "0" : "") + n; }
    return d.getUTCFullYear() + "-" + p(d.getUTCMonth() + 1) + "-" + p(d.getUTCDate()) + " " +
      p(d.getUTCHours()) + ":" + p(d.getUTCMinutes()) + ":" + p(d.getUTCSeconds());
  };
})();
