// Live progress of a negotiation (server-sent events); the page works without it (reload).
(function () {
  var state = document.getElementById("state");
  if (!state || !state.dataset.events || !window.EventSource) return;
  var progress = document.getElementById("progress");
  var source = new EventSource(state.dataset.events);
  source.addEventListener("state", function (event) {
    var data = JSON.parse(event.data);
    state.textContent = data.state;
    if (progress) progress.textContent = data.pendingDecision ? "… " + data.pendingDecision : "…";
  });
  source.addEventListener("end", function () {
    source.close();
    window.location.reload();
  });
})();
