/* QR login: poll the ticket state once a second and finish the login once the app confirms
   the page notices within two seconds). No inline script: CSP script-src 'self'. */
(function () {
  "use strict";
  var box = document.getElementById("qr-login");
  if (!box) { return; }
  var stateText = document.getElementById("qr-state");
  var refresh = document.getElementById("qr-refresh");
  var form = document.getElementById("qr-complete");
  var interval = parseInt(box.dataset.interval, 10) || 1000;
  var last = "pending";
  var timer = null;

  function say(key) {
    var text = box.dataset["text" + key.charAt(0).toUpperCase() + key.slice(1)];
    if (text) { stateText.textContent = text; }
  }

  function stop(key) {
    window.clearInterval(timer);
    say(key);
    if (key !== "confirmed") { refresh.hidden = false; }
  }

  function handle(state) {
    box.dataset.state = state;
    if (state === last) { return; }
    last = state;
    if (state === "scanned") { say("scanned"); }
    else if (state === "confirmed") { stop("confirmed"); form.submit(); }
    else if (state === "denied" || state === "expired") { stop(state); }
  }

  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", cache: "no-store",
                                  headers: {"Accept": "application/json"}})
      .then(function (resp) { if (!resp.ok) { throw new Error(resp.status); } return resp.json(); })
      .then(function (data) { handle(String(data.state || "expired")); })
      .catch(function () { say("offline"); });
  }

  timer = window.setInterval(poll, interval);
  poll();
}());
