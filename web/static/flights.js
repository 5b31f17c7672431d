/* Recorded flights and their replay on the map with a time slider and speed, against the
   planned route, with the plan against flown figures. The DOM is built with el() (text nodes
   only, never HTML from data). */
"use strict";
(() => {
  const {api, el, makeMap, may, t, num, dateTime} = dropline;
  const $ = (id) => document.getElementById(id);
  const map = makeMap("map");
  const layer = L.layerGroup().addTo(map);
  let samples = [], marker = null, timer = null, lastTick = null;
  const shown = (v, unit = "") => (v === null || v === undefined ? "?" : `${v}${unit}`);

  const labels = {cross_track_max_m: t("cross-track max (m)"),
    cross_track_p95_m: t("cross-track p95 (m)"),
    agl_min_m: t("AGL min flown (m)"), agl_max_m: t("AGL max flown (m)"),
    agl_min_planned_m: t("AGL min planned (m)"), agl_max_planned_m: t("AGL max planned (m)"),
    duration_planned_s: t("duration planned (s)"), duration_flown_s: t("duration flown (s)"),
    energy_planned_wh: t("energy planned (Wh)"), energy_used_wh: t("energy used (Wh)"),
    items_reached: t("mission items reached"), items_total: t("mission items"),
    final_state: t("final state"), final_mode: t("final mode")};

  /* The sample's height: above the ground where the plan's DEM is known, else above home,
     else above sea level; always labelled. */
  function height(s) {
    if (s.alt_agl_m !== null && s.alt_agl_m !== undefined) {
      return t("%(m)s m AGL", {m: num(s.alt_agl_m, 1)});
    }
    if (s.alt_rel_m !== null && s.alt_rel_m !== undefined) {
      return t("%(m)s m above home", {m: num(s.alt_rel_m, 1)});
    }
    return t("%(m)s m AMSL", {m: s.alt_amsl_m === null || s.alt_amsl_m === undefined
      ? "?" : num(s.alt_amsl_m, 1)});
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const m = Math.floor(seconds / 60), sec = Math.round(seconds % 60);
    return t("%(min)s min %(s)s s", {min: m, s: String(sec).padStart(2, "0")});
  }

  function date(epochS) {
    if (epochS === null || epochS === undefined) return "–";
    return dateTime(epochS,
      {year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
  }

  function showAt(timeS) {
    if (!samples.length) return;
    let i = samples.findIndex((s) => s.t_s > timeS);
    i = i < 0 ? samples.length - 1 : Math.max(0, i - 1);
    const s = samples[i];
    marker.setLatLng([s.lat_deg, s.lon_deg]);
    $("replay-time").textContent = t(
      "t = %(t)s s · %(mode)s · alt %(height)s · %(speed)s m/s · battery %(battery)s%% · item %(item)s",
      {t: timeS.toFixed(0), mode: shown(s.mode), height: height(s),
       speed: s.groundspeed_m_s === null || s.groundspeed_m_s === undefined
         ? "?" : num(s.groundspeed_m_s, 1),
       battery: shown(s.battery_pct), item: s.mission_seq ?? "–"});
  }

  /* Replay time (s) is kept here, not in the slider: the slider snaps to whole seconds (its
     step, so that a key press moves 1 s), playback runs smoothly between them. */
  let at = 0;
  function seek(timeS) {
    const end = samples.length ? samples[samples.length - 1].t_s : 0;
    at = Math.min(end, Math.max(0, timeS));
    $("slider").value = at;
    showAt(at);
  }
  function stop() { if (timer) clearInterval(timer); timer = null; $("play").textContent = t("Play"); }
  $("play").onclick = () => {
    if (timer) { stop(); return; }
    const end = samples.length ? samples[samples.length - 1].t_s : 0;
    if (at >= end) seek(0);
    $("play").textContent = t("Pause"); lastTick = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      seek(at + (now - lastTick) / 1000 * parseFloat($("speed").value));
      lastTick = now;
      if (at >= end) stop();
    }, 100);
  };
  $("slider").oninput = () => seek(parseFloat($("slider").value));
  $("slider").addEventListener("keydown", (ev) => {
    const jump = {PageUp: 10, PageDown: -10}[ev.key];
    if (jump === undefined) return;
    ev.preventDefault();
    seek(Math.round(at) + jump);
  });

  async function replay(f) {
    stop();
    const r = await api("GET", `/api/flights/${f.id}/replay`);
    samples = r.samples;
    layer.clearLayers();
    if (r.planned_route.length) L.polyline(r.planned_route, {color: "#555", dashArray: "6 4"})
      .bindTooltip(t("planned")).addTo(layer);
    const flown = samples.map((s) => [s.lat_deg, s.lon_deg]);
    if (flown.length) {
      L.polyline(flown, {color: "#e6194b", weight: 3}).bindTooltip(t("flown")).addTo(layer);
      marker = L.circleMarker(flown[0], {radius: 7, color: "#000", fillColor: "#e6194b", fillOpacity: 1})
        .addTo(layer);
      map.fitBounds(flown.concat(r.planned_route), {padding: [20, 20]});
    }
    const end = samples.length ? samples[samples.length - 1].t_s : 0;
    $("slider").max = Math.ceil(end);
    $("replay-title").textContent = t("Flight %(id)s: %(plan)s · sortie %(sortie)s · %(vehicle)s · %(date)s",
      {id: f.id, plan: f.plan ?? t("unknown plan"), sortie: f.sortie_id, vehicle: f.vehicle,
       date: date(f.takeoff_at ?? f.started_at)});
    $("replay-height").textContent = r.alt_reference === "dem"
      ? t("Heights above the ground (the plan's elevation model).")
      : t("Heights above home (no elevation model for this flight).");
    const fig = r.figures || {};
    const rows = Object.entries(labels).filter(([k]) => k in fig).map(([k, label]) =>
      el("tr", {}, el("td", {}, label), el("td", {"data-figure": k}, fig[k] ?? "–")));
    for (const [drop, err] of Object.entries(fig.drop_errors_m || {})) {
      rows.push(el("tr", {}, el("td", {}, t("drop %(drop)s release error (m)", {drop})),
        el("td", {"data-drop": drop}, err ?? t("not released"))));
    }
    for (const [drop, err] of Object.entries(fig.grab_errors_m || {})) {
      rows.push(el("tr", {}, el("td", {}, t("pickup %(drop)s collection error (m)", {drop})),
        el("td", {"data-pickup": drop}, err ?? t("not collected"))));
    }
    const planned = fig.drop_agl_planned_m || {};
    for (const [drop, low] of Object.entries(fig.drop_agl_min_m || {})) {
      rows.push(el("tr", {}, el("td", {}, t("drop %(drop)s lowest height flown / planned (m)", {drop})),
        el("td", {"data-drop-agl": drop}, `${low ?? "–"} / ${planned[drop] ?? "–"}`)));
    }
    for (const inc of fig.incursions || []) {
      rows.push(el("tr", {class: "error"}, el("td", {}, t("incursion")), el("td", {}, JSON.stringify(inc))));
    }
    $("figures").replaceChildren(...rows);
    $("replay").hidden = false;
    seek(0);
    // on a phone the map sits above the replay controls: bring both into view
    if (matchMedia("(max-width: 760px)").matches) map.getContainer().scrollIntoView({block: "start"});
  }

  async function load() {
    const r = await api("GET", "/api/flights");
    document.querySelector("#flights tbody").replaceChildren(...r.flights.map((f) => el("tr", {},
      el("td", {}, f.id), el("td", {}, date(f.takeoff_at ?? f.started_at)),
      el("td", {}, f.plan ?? "–"), el("td", {}, f.sortie_id), el("td", {}, f.vehicle),
      el("td", {}, duration(f.duration_s)), el("td", {}, f.state),
      el("td", {}, el("button", {class: "replay", "data-flight": f.id,
        disabled: !f.has_log || !may.has("replay"), onclick: () => replay(f)}, t("Replay"))))));
  }
  load();
})();
