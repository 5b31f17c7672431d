/* Recorded flights and their replay on the map with a time slider and speed, against the
   planned route, with the plan against flown figures. The DOM is built with el() (text nodes
   only, never HTML from data). */
"use strict";
(() => {
  const {api, el, makeMap, may} = dropline;
  const $ = (id) => document.getElementById(id);
  const map = makeMap("map");
  const layer = L.layerGroup().addTo(map);
  let samples = [], marker = null, timer = null, lastTick = null;
  const shown = (v, unit = "") => (v === null || v === undefined ? "?" : `${v}${unit}`);

  const labels = {cross_track_max_m: "cross-track max (m)", cross_track_p95_m: "cross-track p95 (m)",
    agl_min_m: "AGL min flown (m)", agl_max_m: "AGL max flown (m)",
    agl_min_planned_m: "AGL min planned (m)", agl_max_planned_m: "AGL max planned (m)",
    duration_planned_s: "duration planned (s)", duration_flown_s: "duration flown (s)",
    energy_planned_wh: "energy planned (Wh)", energy_used_wh: "energy used (Wh)",
    items_reached: "mission items reached", items_total: "mission items",
    final_state: "final state", final_mode: "final mode"};

  /* The sample's height: above the ground where the plan's DEM is known, else above home,
     else above sea level; always labelled. */
  function height(s) {
    if (s.alt_agl_m !== null && s.alt_agl_m !== undefined) return `${s.alt_agl_m} m AGL`;
    if (s.alt_rel_m !== null && s.alt_rel_m !== undefined) return `${s.alt_rel_m} m above home`;
    return `${shown(s.alt_amsl_m)} m AMSL`;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const m = Math.floor(seconds / 60), sec = Math.round(seconds % 60);
    return `${m} min ${String(sec).padStart(2, "0")} s`;
  }

  function date(epochS) {
    if (epochS === null || epochS === undefined) return "–";
    return new Date(epochS * 1000).toLocaleString(undefined,
      {year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
  }

  function showAt(t) {
    if (!samples.length) return;
    let i = samples.findIndex((s) => s.t_s > t);
    i = i < 0 ? samples.length - 1 : Math.max(0, i - 1);
    const s = samples[i];
    marker.setLatLng([s.lat_deg, s.lon_deg]);
    $("replay-time").textContent = `t = ${t.toFixed(0)} s · ${shown(s.mode)} · alt ${height(s)} · ` +
      `${shown(s.groundspeed_m_s, " m/s")} · battery ${shown(s.battery_pct, "%")} · ` +
      `item ${s.mission_seq ?? "–"}`;
  }

  /* Replay time (s) is kept here, not in the slider: the slider snaps to whole seconds (its
     step, so that a key press moves 1 s), playback runs smoothly between them. */
  let at = 0;
  function seek(t) {
    const end = samples.length ? samples[samples.length - 1].t_s : 0;
    at = Math.min(end, Math.max(0, t));
    $("slider").value = at;
    showAt(at);
  }
  function stop() { if (timer) clearInterval(timer); timer = null; $("play").textContent = "Play"; }
  $("play").onclick = () => {
    if (timer) { stop(); return; }
    const end = samples.length ? samples[samples.length - 1].t_s : 0;
    if (at >= end) seek(0);
    $("play").textContent = "Pause"; lastTick = performance.now();
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
      .bindTooltip("planned").addTo(layer);
    const flown = samples.map((s) => [s.lat_deg, s.lon_deg]);
    if (flown.length) {
      L.polyline(flown, {color: "#e6194b", weight: 3}).bindTooltip("flown").addTo(layer);
      marker = L.circleMarker(flown[0], {radius: 7, color: "#000", fillColor: "#e6194b", fillOpacity: 1})
        .addTo(layer);
      map.fitBounds(flown.concat(r.planned_route), {padding: [20, 20]});
    }
    const end = samples.length ? samples[samples.length - 1].t_s : 0;
    $("slider").max = Math.ceil(end);
    $("replay-title").textContent = `Flight ${f.id}: ${f.plan ?? "unknown plan"} · sortie ` +
      `${f.sortie_id} · ${f.vehicle} · ${date(f.takeoff_at ?? f.started_at)}`;
    $("replay-height").textContent = r.alt_reference === "dem"
      ? "Heights above the ground (the plan's elevation model)."
      : "Heights above home (no elevation model for this flight).";
    const fig = r.figures || {};
    const rows = Object.entries(labels).filter(([k]) => k in fig).map(([k, label]) =>
      el("tr", {}, el("td", {}, label), el("td", {"data-figure": k}, fig[k] ?? "–")));
    for (const [drop, err] of Object.entries(fig.drop_errors_m || {})) {
      rows.push(el("tr", {}, el("td", {}, `drop ${drop} release error (m)`),
        el("td", {"data-drop": drop}, err ?? "not released")));
    }
    const planned = fig.drop_agl_planned_m || {};
    for (const [drop, low] of Object.entries(fig.drop_agl_min_m || {})) {
      rows.push(el("tr", {}, el("td", {}, `drop ${drop} lowest height flown / planned (m)`),
        el("td", {"data-drop-agl": drop}, `${low ?? "–"} / ${planned[drop] ?? "–"}`)));
    }
    for (const inc of fig.incursions || []) {
      rows.push(el("tr", {class: "error"}, el("td", {}, "incursion"), el("td", {}, JSON.stringify(inc))));
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
        disabled: !f.has_log || !may.has("replay"), onclick: () => replay(f)}, "Replay")))));
  }
  load();
})();
