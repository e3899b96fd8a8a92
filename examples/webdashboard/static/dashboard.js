// Live updates for the pipeline page. The server renders every board
// (escaped by html/template); this script only swaps it in when an
// "update" event carries a new one, and keeps "as of" current. Without
// JavaScript the page still works: reload to see changes.
"use strict";

(function () {
  var board = document.getElementById("board");
  var asOf = document.getElementById("asof");
  var live = document.getElementById("live");
  if (!board || !window.EventSource) {
    return;
  }
  var events = new EventSource(board.getAttribute("data-events"));

  events.addEventListener("update", function (e) {
    var u;
    try {
      u = JSON.parse(e.data);
    } catch (err) {
      return;
    }
    if (u.html && u.version !== board.getAttribute("data-version")) {
      board.innerHTML = u.html;
      board.setAttribute("data-version", u.version);
    }
    if (asOf && u.asOf) {
      asOf.textContent = u.asOfText;
      asOf.setAttribute("datetime", u.asOf);
    }
    // An update without news (a newer "as of") keeps the last
    // announcement: clearing it would only make screen readers miss it.
    if (live && u.announce) {
      live.textContent = u.announce;
    }
  });

  events.addEventListener("open", function () {
    document.body.removeAttribute("data-offline");
  });
  events.addEventListener("error", function () {
    // EventSource reconnects by itself; say so instead of showing stale data as live.
    document.body.setAttribute("data-offline", "true");
    if (live) {
      live.textContent = "Live updates interrupted; reconnecting.";
    }
  });
})();
