// Follows a running investigation through server-sent events and updates the
// page in place; when it finishes, the page reloads to show the result. The
// page works without this script: it reloads itself every few seconds.
"use strict";
(function () {
  var box = document.querySelector("[data-live]");
  if (!box || !window.EventSource) return;
  var events = new EventSource(box.getAttribute("data-live"));
  var state = document.getElementById("estado");
  var phase = document.getElementById("fase");
  var bar = document.getElementById("progresso");
  var percent = document.getElementById("porcento");
  events.addEventListener("estado", function (e) {
    var s = JSON.parse(e.data);
    state.textContent = s.estado;
    state.className = "estado " + s.status;
    phase.textContent = s.fase;
    if (bar) {
      bar.value = s.progresso;
      bar.textContent = s.progresso + "%";
    }
    if (percent) percent.textContent = s.progresso + "%";
    if (s.terminada) {
      events.close();
      window.location.reload();
    }
  });
  // Not an error to show: EventSource reconnects by itself.
  events.onerror = function () {};
})();
