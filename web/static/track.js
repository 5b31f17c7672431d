/* The public tracking page: times in the reader's own clock and time zone, and the parcel's
   status checked again every minute (the server answers 304 while nothing changed). Every
   text goes in with textContent. */
"use strict";
(() => {
  const main = document.getElementById("track");
  const clock = new Intl.DateTimeFormat(undefined, {weekday: "short", day: "numeric",
    month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short"});
  const $ = (id) => document.getElementById(id);

  function showTime(row, timeId, unix) {
    $(row).hidden = unix === null || unix === undefined || unix === "";
    if (!$(row).hidden) $(timeId).textContent = clock.format(new Date(Number(unix) * 1000));
  }

  function draw(s) {
    $("track-state").textContent = s.status;
    $("track-state").className = "state state-" + s.state;
    showTime("track-eta", "track-eta-time", s.eta_at);
    showTime("track-delivered", "track-delivered-time", s.delivered_at);
    $("track-failed").hidden = !s.reason;
    $("track-reason").textContent = s.reason || "";
    $("track-next").textContent = s.next_step || "";
    $("contact-name").textContent = s.contact.name;
  }

  showTime("track-eta", "track-eta-time", $("track-eta-time").dataset.unix);
  showTime("track-delivered", "track-delivered-time", $("track-delivered-time").dataset.unix);
  let delivered = $("track-state").classList.contains("state-delivered");

  async function refresh() {
    if (delivered || document.hidden) return;
    try {
      const r = await fetch(main.dataset.status, {headers: {Accept: "application/json"}});
      if (!r.ok) return;
      const s = await r.json();
      draw(s);
      delivered = s.state === "delivered";
    } catch (e) { /* offline: try again at the next minute */ }
  }
  setInterval(refresh, 60000);
  document.addEventListener("visibilitychange", refresh);
})();
