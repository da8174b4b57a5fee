/* One order, live: state, total, timeline and price history follow the feed.
   A price change does not silently change what the pay button pays: the buyer is told,
   and pays the new version after looking at it. */
"use strict";
(function () {
  var root = document.getElementById("order");
  if (!root) return;
  var id = Number(root.dataset.order);
  var shownVersion = Number(root.dataset.version);
  var fetching = false, again = false;

  function render(o) {
    root.dataset.state = o.state;
    var st = document.getElementById("order-state");
    st.replaceChildren(fpState(o.state));
    document.getElementById("order-total").textContent = fpMoney(o.total, o.currency);
    document.getElementById("order-version").textContent = o.version;
    if (o.version !== shownVersion && o.state === "pending_payment") {
      document.getElementById("price-notice-total").textContent = fpMoney(o.total, o.currency);
      document.getElementById("price-notice").hidden = false;
    }
    var cashTotal = document.getElementById("cash-total");  /* commerce: pay cash at the counter */
    if (cashTotal) cashTotal.textContent = fpMoney(o.total, o.currency);
    if (o.state !== "pending_payment") {
      var form = document.getElementById("pay-form");
      if (form) form.hidden = true;
      var cash = document.getElementById("cash-notice");
      if (cash) cash.hidden = true;
    }
    if (o.events) {
      var list = document.getElementById("timeline");
      list.replaceChildren();
      o.events.forEach(function (e) {
        var li = fpEl("li");
        li.appendChild(fpEl("span", "when", fpWhen(e.at)));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(fpState(e.to));
        if (e.note) { li.appendChild(document.createTextNode(" ")); li.appendChild(fpEl("span", "muted", e.note)); }
        if (e.device) { li.appendChild(document.createTextNode(" ")); li.appendChild(fpEl("span", "muted", "terminal " + e.device)); }
        list.appendChild(li);
      });
    }
  }

  function refresh() {  /* the full order (timeline included) from the API, one fetch at a time */
    if (fetching) { again = true; return; }
    fetching = true;
    fetch("/api/v1/orders/" + id, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (o) { if (o) render(o); })
      .finally(function () { fetching = false; if (again) { again = false; refresh(); } });
  }

  fpLive(root.dataset.feed, function (msg) {
    if (msg.kind === "reconnected") { refresh(); return; }
    if (msg.kind === "order" && msg.data && msg.data.id === id) {
      render(msg.data);
      refresh();
    }
  });
})();
