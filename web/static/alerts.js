/* Alerts as the crew reads them: each with its time (the server's, shown as this device's clock
   time and an age), severity, vehicle, cause and suggested action. Warnings and critical alerts
   carry an Acknowledge button until someone acknowledged them; info alerts need none and fade
   away. A new critical alert can ring: a short tone (Web Audio) and a browser notification,
   when the user turned that on with the toggle above the list (remembered in localStorage).
   Every text comes from the server as data and is set as text, never parsed as HTML.

   dropline.alerts.draw(list, alerts, {now, error}) renders a list of alerts into the <ul>
   ``list``; ``now`` gives the server's present Unix time (default: this device's clock),
   ``error`` shows a failed acknowledgement. */
"use strict";
dropline.alerts = (() => {
  const {api, el, may, t, num} = dropline;
  const STORE = "dropline.alerts.ring";
  //: info alerts fade over this many seconds, and are not shown after it
  const INFO_FADE_S = 600;
  let list = null, shown = [], opts = {}, seen = null, audio = null, toggle = null;

  const nowS = () => (opts.now ? opts.now() : Date.now() / 1000);
  const clockTime = (unixS) => new Date(unixS * 1000).toLocaleTimeString(dropline.lang, {hour12: false});
  const ago = (s) => s < 60 ? t("%(n)s s", {n: num(Math.max(0, s), 0)}) :
    s < 3600 ? t("%(min)s min %(s)s s", {min: num(Math.floor(s / 60), 0), s: num(Math.round(s % 60), 0)}) :
    t("%(n)s h", {n: num(s / 3600, 1, 1)});
  const when = (a) => t("%(time)s (%(age)s ago)", {time: clockTime(a.at), age: ago(nowS() - a.at)}) + " ";
  const SEVERITIES = {info: t("INFO"), warning: t("WARNING"), critical: t("CRITICAL")};
  const severityName = (code) => Object.prototype.hasOwnProperty.call(SEVERITIES, code) ?
    SEVERITIES[code] : String(code).toUpperCase();
  const ringing = () => localStorage.getItem(STORE) === "on";
  // the vehicle as shown: its system id, with its hub in broker mode
  const alertVehicle = (a) => a.hub === undefined || a.hub === null ? a.sysid :
    t("%(hub)s/%(id)s", {hub: a.hub, id: a.hub_sysid});

  function tone() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") audio.resume();
      const t = audio.currentTime;
      for (const [start, hz] of [[0, 880], [0.25, 660], [0.5, 880]]) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = hz;
        gain.gain.setValueAtTime(0.0001, t + start);
        gain.gain.exponentialRampToValueAtTime(0.3, t + start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + start + 0.2);
        osc.connect(gain).connect(audio.destination);
        osc.start(t + start);
        osc.stop(t + start + 0.22);
      }
    } catch (e) { /* no sound on this device */ }
  }

  function ring(a) {
    if (!ringing()) return;
    tone();
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        new Notification(t("Critical: vehicle %(id)s %(kind)s", {id: alertVehicle(a), kind: a.kind}),
                         {body: `${a.message}\n${a.advice || ""}`, tag: `dropline-alert-${a.id}`});
      } catch (e) { /* notifications only from a service worker on this device */ }
    }
  }

  function makeToggle() {
    const box = el("input", {type: "checkbox", id: "alert-ring"});
    box.checked = ringing();
    box.addEventListener("change", async () => {
      localStorage.setItem(STORE, box.checked ? "on" : "off");
      if (!box.checked) return;
      tone();  // started by the click, the page may play sound from now on
      if ("Notification" in window && Notification.permission === "default") {
        try { await Notification.requestPermission(); } catch (e) { /* the sound stays on */ }
      }
    });
    return el("label", {id: "alert-ring-toggle",
      title: t("a tone and a browser notification for each new critical alert")},
      box, " " + t("ring for critical alerts"));
  }

  function item(a) {
    const needsAck = a.needs_ack ?? a.severity !== "info";
    const li = el("li", {id: "alert-" + a.id, class: `alert alert-${a.severity}`,
                         "data-severity": a.severity},
      el("small", {class: "alert-time", title: a.at_iso || ""}, when(a)),
      el("b", {class: "alert-severity"}, severityName(a.severity)), " ",
      el("span", {class: "alert-vehicle"}, a.sortie_id ?
        t("vehicle %(id)s %(sortie)s: %(kind)s", {id: alertVehicle(a), sortie: a.sortie_id, kind: a.kind}) :
        t("vehicle %(id)s: %(kind)s", {id: alertVehicle(a), kind: a.kind})), ": ",
      el("span", {class: "alert-cause"}, a.message),
      a.action ? el("span", {class: "alert-gcs-action"},
        " (" + t("ground station: %(action)s", {action: a.action}) + ")") : null,
      a.advice ? el("div", {class: "alert-advice"}, `→ ${a.advice}`) : null,
      !needsAck ? null : a.acked_by ? el("small", {class: "alert-acked"}, t("acknowledged by %(user)s", {user: a.acked_by})) :
        el("button", {class: "ack", disabled: !may.has("ack"), onclick: async () => {
          try { await api("POST", `/api/alerts/${a.id}/ack`); } catch (e) {
            if (opts.error) opts.error(e.message);
          }
        }}, t("Acknowledge")));
    return li;
  }

  function fade() {
    for (const a of shown) {
      if (a.severity !== "info") continue;
      const node = document.getElementById("alert-" + a.id);
      if (!node) continue;
      const age = nowS() - a.at;
      node.hidden = age > INFO_FADE_S;
      node.style.opacity = String(Math.max(0.35, 1 - 0.65 * Math.max(0, age) / INFO_FADE_S));
    }
  }

  function draw(target, alerts, options) {
    list = target; opts = options || {}; shown = alerts.slice().sort((a, b) => b.id - a.id);
    if (!toggle) { toggle = makeToggle(); list.before(toggle); }
    if (seen === null) seen = new Set(shown.map((a) => a.id));  // old ones do not ring
    for (const a of shown) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
      if (a.severity === "critical" && !a.acked_by) ring(a);
    }
    list.replaceChildren(...shown.map(item));
    fade();
  }

  setInterval(() => {
    if (!list) return;
    for (const node of list.querySelectorAll(".alert-time")) {
      const a = shown.find((x) => "alert-" + x.id === node.parentNode.id);
      if (a) node.textContent = when(a);
    }
    fade();
  }, 5000);

  return {draw, ringing};
})();
