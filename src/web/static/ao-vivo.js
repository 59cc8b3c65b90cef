// Follows a running investigation through server-sent events and updates the
// page in place; when it finishes, the page reloads to show the result. When
// the stream cannot go on (the server stopped, too many live pages), the page
// reloads a little later and follows again. A list with running
// investigations (`data-refresh`) reloads itself every few seconds. Without
// this script, both pages reload through <meta http-equiv="refresh">.
"use strict";
(function () {
  var box = document.querySelector("[data-live]");
  if (!box) {
    var main = document.querySelector("main[data-refresh]");
    if (main) {
      setTimeout(function () { window.location.reload(); },
                 1000 * Number(main.getAttribute("data-refresh")));
    }
    return;
  }
  if (!window.EventSource) return;
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
  // EventSource reconnects by itself after a dropped connection; it gives up
  // for good on an error status, and then the page tries again.
  events.onerror = function () {
    if (events.readyState === EventSource.CLOSED) {
      setTimeout(function () { window.location.reload(); }, 5000);
    }
  };
})();
