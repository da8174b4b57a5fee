/* Monitor, alarms and devices pages, live from /api/v1/monitor/ws: state counters, the order
   feed with per-order timers (flagged when an order stays in a state past its limit), alarms
   with acknowledge/clear, and the fleet's figures. */
"use strict";
(function () {
  var root = document.getElementById("monitor");
  if (!root) return;
  var limits = {};
  try { limits = JSON.parse(root.dataset.limits || "{}"); } catch (e) { limits = {}; }
  var canAck = root.dataset.canAck === "1";
  var FEED_ROWS = 50;

  /* --- counters --- */
  function setCounts(counts) {
    document.querySelectorAll("#counters .counter").forEach(function (el) {
      el.querySelector(".n").textContent = counts[el.dataset.state] || 0;
    });
  }

  /* --- order feed + timers --- */
  var feed = document.querySelector("#feed tbody");
  function orderRow(o) {
    var row = feed.querySelector('tr[data-order="' + Number(o.id) + '"]');
    if (!row) {
      row = fpEl("tr");
      row.dataset.order = o.id;
      [["Order", ""], ["State", "state-cell"], ["In state for", "timer"], ["Shop", ""], ["Source", ""],
       ["Total", "num total-cell"]].forEach(function (c) {
        var td = fpEl("td", c[1]); td.dataset.label = c[0]; row.appendChild(td);
      });
      var link = fpEl("a", null, "#" + o.id);
      link.href = "/orders/" + Number(o.id);
      row.children[0].appendChild(link);
      row.children[3].textContent = o.shop;
      row.children[4].textContent = o.source + (o.device ? " " + o.device : "");
    }
    feed.insertBefore(row, feed.firstChild);
    while (feed.children.length > FEED_ROWS) feed.removeChild(feed.lastChild);
    row.dataset.state = o.state;
    row.dataset.source = o.source;
    row.dataset.since = o.state_changed_at || "";
    row.querySelector(".state-cell").replaceChildren(fpState(o.state));
    row.querySelector(".total-cell").textContent = fpMoney(o.total, o.currency);
    row.classList.add("flash");
    setTimeout(function () { row.classList.remove("flash"); }, 1200);
    tick();
  }
  /* A burst of new orders arrives as one summary (cloud/orders/notify.py): one row says how many. */
  function burstRow(b) {
    var row = fpEl("tr", "burst");
    var td = fpEl("td");
    td.colSpan = 6;
    var states = Object.keys(b.states || {}).map(function (k) { return b.states[k] + " " + k; });
    var link = fpEl("a", null, "#" + Number(b.first) + "\u2013#" + Number(b.last));
    link.href = "/orders";
    td.appendChild(link);
    td.appendChild(document.createTextNode(": " + Number(b.created) + " new orders (" + states.join(", ") + ")"));
    row.appendChild(td);
    feed.insertBefore(row, feed.firstChild);
    while (feed.children.length > FEED_ROWS) feed.removeChild(feed.lastChild);
  }
  function span(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + sec + "s";
  }
  function tick() {
    if (!feed) return;
    var now = Date.now();
    feed.querySelectorAll("tr").forEach(function (row) {
      var since = Date.parse(row.dataset.since), cell = row.querySelector(".timer");
      /* limits by source and state: only orders that wait for the shop (views_staff.limits) */
      var limit = (limits[row.dataset.source] || {})[row.dataset.state];
      if (isNaN(since) || limit === undefined) { cell.textContent = "-"; row.classList.remove("stuck"); return; }
      var age = (now - since) / 1000;
      cell.textContent = span(age);
      row.classList.toggle("stuck", age > limit);
    });
  }
  if (feed) { tick(); setInterval(tick, 1000); }

  /* --- alarms --- */
  var alarmList = document.getElementById("alarms");
  function alarmItem(a) {
    var li = fpEl("li", "alarm sev-" + a.severity + (a.acked_at ? " acked" : "") + (a.cleared_at ? " cleared" : ""));
    li.dataset.alarm = a.id;
    li.appendChild(fpEl("span", "sev", a.severity));
    li.appendChild(document.createTextNode(" "));
    /* the alarm's name for people (cloud/fleet/alarm_text.py), linked to its order or terminal */
    var title = (document.documentElement.lang === "zh-CN" && a.title_zh) || a.title || a.kind;
    var name = a.link ? fpEl("a", "title", title) : fpEl("span", "title", title);
    if (a.link && a.link.charAt(0) === "/") name.href = a.link;
    li.appendChild(name);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(fpEl("span", "kind muted small", a.kind));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(fpEl("span", "msg", a.message));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(fpEl("span", "muted small", "×" + a.count + " · " + fpWhen(a.last_at) +
      (a.acked_at ? " · acknowledged" : "") + (a.cleared_at ? " · cleared" : "")));
    if (canAck && !a.acked_at && !a.cleared_at) {
      var ack = fpEl("button", "small ack", "Acknowledge"); ack.dataset.ack = a.id; li.appendChild(ack);
    }
    if (canAck && !a.cleared_at) {
      var clear = fpEl("button", "small secondary clear", "Clear"); clear.dataset.clear = a.id; li.appendChild(clear);
    }
    return li;
  }
  function upsertAlarm(a) {
    if (!alarmList || typeof a.id !== "number") return;
    var old = alarmList.querySelector('li[data-alarm="' + a.id + '"]');
    if (a.cleared_at && alarmList.dataset.show !== "all") {
      /* a list of open alarms: a cleared one leaves it */
      if (old) alarmList.removeChild(old);
    } else {
      var li = alarmItem(a);
      if (old) alarmList.replaceChild(li, old); else alarmList.insertBefore(li, alarmList.firstChild);
    }
    var none = document.getElementById("no-alarms");
    if (none) none.hidden = alarmList.children.length > 0;
    var count = document.getElementById("alarm-count");
    if (count) count.textContent = alarmList.querySelectorAll("li:not(.cleared)").length + " open";
  }
  if (alarmList) {
    alarmList.addEventListener("click", function (ev) {
      var b = ev.target.closest("button");
      if (!b) return;
      var id = b.dataset.ack || b.dataset.clear, what = b.dataset.ack ? "ack" : "clear";
      b.disabled = true;
      fpApi("POST", "/api/v1/alarms/" + Number(id) + "/" + what)
        .then(upsertAlarm)
        .catch(function (e) { b.disabled = false; b.title = e.message; alert(e.message); });
    });
  }

  /* --- devices --- */
  var devTable = document.querySelector("#devices tbody"), devMini = document.getElementById("devices-mini");
  var devPending = false;
  function setDevice(d) {
    if (devMini) {
      var li = devMini.querySelector('li[data-device="' + CSS.escape(d.id) + '"]');
      if (!li) { li = fpEl("li"); li.dataset.device = d.id; devMini.appendChild(li); }
      li.replaceChildren(fpEl("span", "dot " + (d.online ? "on" : "off")), document.createTextNode(" " + d.id + " "),
                         fpEl("span", "muted", d.shop || ""));
    }
    if (!devTable) return;
    var row = devTable.querySelector('tr[data-device="' + CSS.escape(d.id) + '"]');
    if (!row) return refreshDevices();
    if ("online" in d) {
      row.querySelector(".online").replaceChildren(fpEl("span", "dot " + (d.online ? "on" : "off")),
                                                   document.createTextNode(d.online ? " online" : " offline"));
    }
    if (d.last_seen) {
      var seen = row.querySelector(".last_seen");
      seen.dataset.at = typeof d.last_seen === "number" ? new Date(d.last_seen * 1000).toISOString() : d.last_seen;
      seen.title = absolute(seen.dataset.at, row.dataset.zone);
      seen.textContent = ago(seen.dataset.at);
    }
    var show = {fw: String, heap_free: function (n) { return (n / 1024).toFixed(1) + " KB"; },
                rssi: function (n) { return n + " dBm"; }, uptime: duration,
                outbox: function (n) { return n + (n === 1 ? " event" : " events"); }};
    Object.keys(show).forEach(function (k) {
      var cell = row.querySelector("." + k);
      if (k in d && cell) cell.textContent = d[k] === null || d[k] === undefined ? "-" : show[k](d[k]);
    });
  }
  /* units as cloud/web/units.py writes them; "ago" by the server's clock (data-now) */
  var skew = root.dataset.now ? Date.parse(root.dataset.now) - Date.now() : 0;
  if (isNaN(skew)) skew = 0;
  function ago(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return "never";
    var s = Math.max(0, Math.floor((Date.now() + skew - t) / 1000));
    if (s < 60) return "seen " + s + " s ago";
    if (s < 3600) return "seen " + Math.floor(s / 60) + " min ago";
    if (s < 86400) return "seen " + Math.floor(s / 3600) + " h ago";
    return "seen " + Math.floor(s / 86400) + " d ago";
  }
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + m + " min";
    return m ? m + " min" : s + " s";
  }
  function absolute(iso, zone) {  /* the shop's zone when known, else the browser's */
    var t = new Date(iso);
    if (isNaN(t)) return "";
    try {
      return t.toLocaleString("sv-SE", {timeZone: zone || undefined, timeZoneName: "short"}) +
        (zone ? " (" + zone + ")" : "");
    } catch (e) { return t.toLocaleString("sv-SE", {timeZoneName: "short"}); }
  }
  if (devTable) setInterval(function () {
    devTable.querySelectorAll(".last_seen[data-at]").forEach(function (c) { c.textContent = ago(c.dataset.at); });
  }, 5000);
  function refreshDevices() {  /* heartbeat figures come from the API, at most once a second */
    if (devPending) return;
    devPending = true;
    setTimeout(function () {
      fpApi("GET", "/api/v1/devices").then(function (body) {
        body.devices.forEach(function (d) {
          if (devTable && !devTable.querySelector('tr[data-device="' + CSS.escape(d.id) + '"]')) {
            var row = fpEl("tr"); row.dataset.device = d.id; row.id = "device-" + d.id;
            [["Terminal", "", d.id], ["Shop", "", d.shop], ["Online", "online"], ["Last seen", "last_seen"],
             ["Uptime", "uptime"], ["Firmware", "fw"], ["Free heap", "num heap_free"], ["Signal (RSSI)", "num rssi"],
             ["Outbox", "num outbox"]]
              .forEach(function (c) { var td = fpEl("td", c[1], c[2]); td.dataset.label = c[0]; row.appendChild(td); });
            devTable.appendChild(row);
          }
          setDevice(d);
        });
      }).catch(function () {}).finally(function () { devPending = false; });
    }, 1000);
  }

  fpLive(root.dataset.feed, function (msg) {
    var d = msg.data;
    if (msg.kind === "snapshot") {
      setCounts(d.counts || {});
      (d.alarms || []).slice().reverse().forEach(upsertAlarm);
    } else if (msg.kind === "counts") {
      setCounts(d);
    } else if (msg.kind === "order" && feed) {
      orderRow(d);
    } else if (msg.kind === "orders" && feed && d) {
      burstRow(d);
    } else if (msg.kind === "alarm") {
      upsertAlarm(d);
    } else if (msg.kind === "device") {
      setDevice(d);
      refreshDevices();
    } else if (msg.kind === "ingest" && d && d.items) {
      if (d.items.some(function (it) { return it[2] === "heartbeat" || it[2] === "boot"; })) refreshDevices();
    } else if (msg.kind === "reconnected") {
      refreshDevices();
    }
  });
})();
