/* The order list, live: rows change state and total as the feed reports, new orders appear. */
"use strict";
(function () {
  var table = document.getElementById("order-list");
  if (!table) return;
  var body = table.querySelector("tbody");
  var waiting = 0, notice = null;
  /* A burst of new orders arrives as one summary without rows: offer to show them. */
  function burst(b) {
    waiting += Number(b.created) || 0;
    if (!notice) {
      notice = fpEl("p", "notice burst");
      var again = fpEl("a", null, "");
      again.href = location.pathname + location.search;
      notice.appendChild(again);
      table.parentNode.insertBefore(notice, table);
    }
    notice.firstChild.textContent = waiting + " new orders: show them";
  }
  fpLive(table.dataset.feed, function (msg) {
    if (msg.kind === "orders" && msg.data) { burst(msg.data); return; }
    if (msg.kind !== "order" || !msg.data) return;
    var o = msg.data;
    var row = body.querySelector('tr[data-order="' + Number(o.id) + '"]');
    if (!row) {
      /* A filtered, sorted or later page shows what was asked: a new order joins only
         the plain newest-first list. */
      if (table.dataset.filtered) return;
      row = fpEl("tr");
      row.dataset.order = o.id;
      var link = fpEl("a", null, "#" + o.id);
      link.href = "/orders/" + Number(o.id);
      var cells = [["Order", ""], ["State", "state-cell"], ["Shop", ""], ["Source", "source-cell"],
                   ["Terminal", "terminal-cell"], ["Total", "num total-cell"], ["Placed", ""]];
      cells.forEach(function (c) { var td = fpEl("td", c[1]); td.dataset.label = c[0]; row.appendChild(td); });
      row.children[0].appendChild(link);
      row.children[2].textContent = o.shop;
      row.children[3].textContent = o.source || "";
      row.children[4].textContent = o.device || "-";
      row.children[6].textContent = fpWhen(o.created_at);
      body.insertBefore(row, body.firstChild);
    }
    row.querySelector(".state-cell").replaceChildren(fpState(o.state));
    row.querySelector(".total-cell").textContent = fpMoney(o.total, o.currency);
  });
})();
