// The market page's clock: every auction's time left, counted down each second from the end
// the server gave (`data-ends-at`, RFC 3339). The server's clock alone decides whether a bid is
// in time; this only shows how long is left. At zero the bid form is disabled and the words of
// `data-ended` shown; a late bid may have moved the end, which a reload shows.
(function () {
  "use strict";
  var clocks = Array.prototype.slice.call(document.querySelectorAll("[data-ends-at]"));
  if (!clocks.length) { return; }
  var lang = document.documentElement.lang || "en";
  var units = lang.indexOf("zh") === 0
    ? { d: "天", h: "小时", m: "分", s: "秒", sep: "" }
    : { d: "d", h: "h", m: "min", s: "s", sep: " " };

  function left(ms) {
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    var parts = [];
    if (d) { parts.push(d + units.sep + units.d); }
    if (d || h) { parts.push(h + units.sep + units.h); }
    parts.push(m + units.sep + units.m);
    if (!d) { parts.push(s + units.sep + units.s); }
    return parts.join(" ");
  }

  function tick() {
    var now = Date.now();
    clocks.forEach(function (clock) {
      var end = Date.parse(clock.getAttribute("data-ends-at"));
      if (isNaN(end)) { return; }
      var card = clock.closest("[data-listing]");
      if (end <= now) {
        clock.textContent = clock.getAttribute("data-ended") || "";
        clock.classList.add("ended");
        if (card) {
          card.querySelectorAll("form.bid button, form.bid input[name=unit_price]").forEach(function (el) {
            el.disabled = true;
          });
        }
      } else {
        clock.textContent = left(end - now);
        // The last minutes: where a valid bid moves the end.
        var late = Number(clock.getAttribute("data-late-ms") || "0");
        clock.classList.toggle("late", end - now <= late);
      }
    });
  }
  tick();
  setInterval(tick, 1000);
})();
