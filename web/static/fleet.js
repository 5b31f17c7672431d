/* The live fleet page: vehicles on the map with tracks and planned routes, per-vehicle battery,
   mode, link, current drop and ETA, alerts with acknowledgement, and confirmed commands. */
"use strict";
(() => {
  const {api, el, tip, palette, makeMap, minutes, events, confirmAction, may} = dropline;
  const $ = (id) => document.getElementById(id);
  const map = makeMap("map");
  const routes = L.layerGroup().addTo(map);
  const vehicles = {};   // sysid -> {data, marker, track}
  let drops = {}, alerts = {}, fitted = false, run = null;

  function message(text, error) {
    $("fleet-message").textContent = text;
    $("fleet-message").className = error ? "error" : "message";
  }

  async function command(label, url) {
    if (!(await confirmAction(`${label}?`))) return;
    try {
      const r = await api("POST", url);
      message(r.results.map((x) => `vehicle ${x.sysid}: ${x.detail}`).join("\n") || "done", false);
    } catch (e) {
      const lines = e.body && e.body.results ? e.body.results.map((x) => `vehicle ${x.sysid}: ${x.detail}`) : [];
      message(lines.concat([e.message]).join("\n"), true);
    }
  }

  function colourOf(v) {
    if (v.sortie_id) return dropline.sortieColour(v.sortie_id);   // as on the plan page
    const names = run ? Object.keys(run.assignment).sort() : [];
    const i = v.name ? names.indexOf(v.name) : v.sysid - 1;
    return palette[(i < 0 ? v.sysid : i) % palette.length];
  }

  function card(v) {
    const colour = colourOf(v);
    const buttons = ["pause", "resume", "rtl", "land"].map((verb) => el("button", {
      class: "command", "data-verb": verb, "data-sysid": v.sysid, disabled: !may.has("command"),
      onclick: () => command(`${verb.toUpperCase()} vehicle ${v.sysid}`,
                             `/api/fleet/vehicles/${v.sysid}/${verb}`)}, verb));
    const link = v.heartbeat_age_s > 3 ? `LOST (${v.heartbeat_age_s} s)` :
      `ok, loss ${(100 * (v.loss_rate || 0)).toFixed(0)}%`;
    const battery = v.battery_pct === null || v.battery_pct === undefined ? null : v.battery_pct;
    return el("div", {class: "card vehicle", id: "vehicle-" + v.sysid, style: `border-left-color:${colour}`},
      el("b", {}, v.name || `vehicle ${v.sysid}`), ` · system ${v.sysid} · `,
      el("span", {class: "mode"}, v.mode), v.armed ? " · ARMED" : "", el("br"),
      `phase ${v.phase || "–"}${v.sortie_id ? " · sortie " + v.sortie_id : ""}`,
      v.current_drop ? ` · drop ${v.current_drop} in ${minutes(v.eta_in_s)}` : "", el("br"),
      el("span", {class: "alt"}, (v.alt_agl_m ?? null) !== null ? `alt ${v.alt_agl_m} m AGL` :
        (v.terrain_agl_m ?? null) !== null ? `alt ${v.terrain_agl_m} m AGL (vehicle's terrain)` :
        `alt ${v.alt_rel_m ?? "–"} m above home (no terrain known)`),
      ` · ${v.groundspeed_m_s ?? "–"} m/s · link ${link}`,
      v.terrain_pending > 0 ? el("small", {class: "terrain-pending"},
        ` · terrain: ${v.terrain_pending} tiles pending`) : null,
      el("div", {class: "battery", title: `battery ${battery ?? "?"}%`},
        el("div", {class: "left", style: `left:0;width:${battery ?? 0}%`})),
      el("small", {class: "battery-text"}, `battery ${battery ?? "?"}%`),
      el("div", {class: "row"}, ...buttons), v.message ? el("small", {class: "error"}, v.message) : null);
  }

  function updateVehicle(v) {
    let entry = vehicles[v.sysid];
    if (!entry) {
      entry = vehicles[v.sysid] = {data: {}, marker: null,
        track: L.polyline([], {color: "#333", weight: 2}).addTo(map)};
    }
    Object.assign(entry.data, v);
    const d = entry.data;
    if (d.lat_deg !== null && d.lat_deg !== undefined) {
      const pos = [d.lat_deg, d.lon_deg];
      const away = d.field_landing;  // landed away from every depot: where to recover it
      if (!away && entry.recover) { entry.recover.remove(); entry.recover = null; }
      if (away && !entry.recover) {
        entry.recover = L.circleMarker([away.lat_deg, away.lon_deg], {radius: 12, color: "#b71c1c", weight: 3,
          fillOpacity: 0.15}).bindTooltip(tip("recover here: ", d.name || `vehicle ${d.sysid}`,
          ` · ${(away.distance_m / 1000).toFixed(1)} km from ${away.depot_id}`), {permanent: true}).addTo(map);
      }
      if (!entry.marker) {
        entry.marker = L.circleMarker(pos, {radius: 7, weight: 2, fillOpacity: 0.9})
          .bindTooltip(tip(`system ${d.sysid}`)).addTo(map);
      }
      entry.marker.setLatLng(pos).setStyle({color: "#000", fillColor: colourOf(d)});
      entry.track.setStyle({color: colourOf(d)});
      const pts = entry.track.getLatLngs();
      const last = pts[pts.length - 1];
      if (!last || last.lat !== pos[0] || last.lng !== pos[1]) entry.track.addLatLng(pos);
      if (!fitted) { map.setView(pos, 12); fitted = true; }
    }
    const old = $("vehicle-" + d.sysid);
    const fresh = card(d);
    if (old) old.replaceWith(fresh); else $("vehicles").append(fresh);
  }

  function drawRoutes() {
    routes.clearLayers();
    if (!run) return;
    for (const [sortie, pts] of Object.entries(run.routes)) {
      L.polyline(pts, {color: "#555", weight: 2, dashArray: "6 4", opacity: 0.7})
        .bindTooltip(tip("planned ", sortie)).addTo(routes);
    }
    for (const d of Object.values(drops)) {
      L.circleMarker([d.lat_deg, d.lon_deg], {radius: 5, color: d.state === "delivered" ? "#2e7d32" :
        d.state === "failed" ? "#b71c1c" : "#f9a825", fillOpacity: 0.8})
        .bindTooltip(tip(d.drop_id, ": ", d.state)).addTo(routes);
    }
  }

  function dropSummary() {
    const all = Object.values(drops);
    const count = (s) => all.filter((d) => d.state === s).length;
    $("drop-summary").textContent = all.length ? `${count("delivered")} of ${all.length} delivered · ` +
      `${count("en_route")} en route · ${count("queued")} queued · ${count("failed")} failed` : "no plan flying";
  }

  function drawAlerts() {  // time, severity, cause, advice, ack where needed, ringing: alerts.js
    dropline.alerts.draw($("alerts"), Object.values(alerts), {error: (m) => message(m, true)});
  }

  // new system ids heard on a listening link wait for an operator; spoofed packets are flagged
  let unconfirmedShown = "";
  function unconfirmedItem(u) {
    const where = u.address ? `${u.link_url} from ${u.address}` : u.link_url;
    return el("li", {id: "unconfirmed-" + u.sysid}, `system ${u.sysid} on ${where} `,
      el("button", {class: "command accept", "data-sysid": u.sysid, disabled: !may.has("command"),
        onclick: async () => {
          await command(`Accept system ${u.sysid} heard on ${where} as a vehicle`,
                        `/api/fleet/vehicles/${u.sysid}/accept`);
          await loadTrust();
        }}, "Accept"));
  }
  function drawTrust(s) {
    const shown = JSON.stringify(s.unconfirmed);
    if (shown !== unconfirmedShown) {  // else keep the buttons under the pointer
      unconfirmedShown = shown;
      $("unconfirmed-vehicles").hidden = s.unconfirmed.length === 0;
      $("unconfirmed").replaceChildren(...s.unconfirmed.map(unconfirmedItem));
    }
    const flags = s.link_flags.filter((f) => f.kind !== "unconfirmed");
    $("link-flags").replaceChildren(...flags.map((f) => el("p", {class: "alert-warning link-flag"},
      `${f.message} (${f.count} packet${f.count === 1 ? "" : "s"})`)));
  }
  async function loadTrust() {
    try { drawTrust(await api("GET", "/api/fleet")); } catch (e) { /* the next poll retries */ }
  }

  function runState() {
    if (!run) { $("run-state").textContent = "no plan uploaded"; return; }
    $("run-state").textContent = `plan ${run.plan_id}` + (run.finished ? " · finished" :
      run.started ? " · flying" : " · uploaded, ready to start") +
      (run.resumed ? " · resumed after a restart" : "");
  }

  async function loadState() {
    const s = await api("GET", "/api/fleet");
    run = s.run; drops = {}; alerts = {};
    s.drops.forEach((d) => { drops[d.drop_id] = d; });
    s.alerts.forEach((a) => { alerts[a.id] = a; });
    $("vehicles").replaceChildren();
    for (const v of s.vehicles) {
      updateVehicle(v);
      const track = s.tracks[String(v.sysid)] || [];
      vehicles[v.sysid].track.setLatLngs(track);
    }
    $("links").replaceChildren(...s.links.filter((l) => !l.open).map((l) =>
      el("p", {class: "error"}, `link ${l.url}: ${l.error}`)));
    drawRoutes(); dropSummary(); drawAlerts(); runState(); drawTrust(s);
    return s.last_event_id;
  }

  async function loadPlans() {
    const p = await api("GET", "/api/plans");
    $("fleet-plan").replaceChildren(el("option", {value: ""}, "(a planned plan)"),
      ...p.plans.filter((r) => r.state === "done").map((r) =>
        el("option", {value: r.id}, `${r.name} · ${r.id}`)));
  }

  // parcels a run of the plan delivered are skipped unless the operator re-sends them (audited)
  const resend = el("input", {type: "checkbox", id: "resend-delivered",
    disabled: !may.has("command")});
  $("upload-plan").after(el("label", {title: "fly sorties whose parcels were delivered again"},
    resend, " re-send delivered parcels"));
  $("upload-plan").onclick = async () => {
    const id = $("fleet-plan").value;
    if (!id) { message("choose a planned plan first", true); return; }
    const again = resend.checked ? " and fly its delivered parcels AGAIN" : "";
    if (!(await confirmAction(`Upload plan ${id} to the vehicles${again} and verify it?`))) return;
    message("uploading…", false);
    try {
      const r = await api("POST", "/api/fleet/upload", {plan_id: id, resend_delivered: resend.checked});
      resend.checked = false;
      message(r.results.map((x) => `${x.name} (system ${x.sysid}): ${x.detail}`)
        .concat(Object.values(r.skipped || {})).join("\n"), false);
    } catch (e) {
      const lines = e.body && e.body.results ? e.body.results.map((x) => `${x.name}: ${x.detail}`) : [];
      message(lines.concat([e.message]).join("\n"), true);
    }
    await loadState();
  };
  $("start-plan").onclick = async () => { await command("Start the uploaded plan", "/api/fleet/start"); await loadState(); };
  document.querySelectorAll("button.all").forEach((b) => {
    b.onclick = () => command(`${b.dataset.verb.toUpperCase()} every vehicle`, `/api/fleet/all/${b.dataset.verb}`);
  });

  const live = events({
    vehicle: (e) => updateVehicle(e.vehicle),
    status: (e) => { if (vehicles[e.sysid]) updateVehicle(Object.assign({sysid: e.sysid}, e.status)); },
    drop: (e) => { drops[e.drop.drop_id] = e.drop; dropSummary(); drawRoutes(); },
    alert: (e) => { alerts[e.alert.id] = e.alert; drawAlerts(); },
    ack: (e) => { if (alerts[e.alert_id]) { alerts[e.alert_id].acked_by = e.by; drawAlerts(); } },
    run: () => { loadState(); },
  }, () => { loadState(); });
  loadPlans().then(loadState).then((lastId) => live.start(lastId));
  setInterval(loadTrust, 3000);  // no event tells of a new system id or a flag
})();
