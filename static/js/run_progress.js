// The month-end run's progress page, kept up to date by polling its small JSON endpoint.
// Without JavaScript the page shows the state as it was loaded, and a Refresh link.
(function () {
  "use strict";
  var root = document.getElementById("run");
  if (!root) return;
  var url = root.dataset.progressUrl;
  var since = "";
  var POLL_MS = 2000;

  function text(id, value) {
    var node = document.getElementById(id);
    if (node) node.textContent = value;
  }

  function showItem(item) {
    var row = document.getElementById("item-" + item.id);
    if (!row) return;
    row.dataset.state = item.state;
    var badge = row.querySelector(".badge");
    badge.className = "badge state-" + item.state;
    badge.textContent = item.state_label;
    var cell = row.querySelector("td.invoice");
    cell.textContent = "";
    if (item.number) {
      if (item.url) {
        var link = document.createElement("a");
        link.href = item.url;
        link.textContent = item.number;
        cell.appendChild(link);
      } else {
        cell.textContent = item.number;
      }
    }
    row.querySelector(".error").textContent = item.error;
    row.querySelector(".email").textContent = item.email;
    row.querySelector("form.retry").hidden = item.state !== "failed";
  }

  function show(data) {
    root.dataset.state = data.state;
    text("run-state", data.state_label);
    document.getElementById("run-state").className = "badge state-" + data.state;
    text("run-left", data.left_label);
    ["created", "failed", "skipped", "waiting", "total"].forEach(function (key) {
      text("count-" + key, data[key]);
    });
    var bar = document.getElementById("run-bar");
    bar.max = data.total;
    bar.value = data.total - data.waiting;
    bar.textContent = data.percent + " %";
    document.getElementById("run-paused").hidden = data.state !== "paused";
    text("run-pause-reason", data.pause_reason);
    document.getElementById("run-retry").hidden = !data.failed;
    var cancel = document.getElementById("run-cancel");
    if (cancel) cancel.hidden = data.state !== "running" && data.state !== "paused";
    data.items.forEach(showItem);
  }

  function poll() {
    var address = url + (since ? "?since=" + encodeURIComponent(since) : "");
    fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        since = data.since;
        show(data);
        if (data.state === "running" || data.state === "paused") {
          window.setTimeout(poll, POLL_MS);
        }
      })
      .catch(function () {
        window.setTimeout(poll, POLL_MS * 3);
      });
  }

  window.setTimeout(poll, root.dataset.state === "running" ? POLL_MS / 4 : POLL_MS);
})();
