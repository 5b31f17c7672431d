/* The live fleet page: vehicle cards (battery, mode, link, current drop and ETA) and alerts
   first, from the state inlined in the page; then the light live stream (the present state,
   then only what changed, at a rate the page asks for); then the map library, the map with
   tracks and planned routes. Everything shown carries its age, stamped by the server: a vehicle
   not heard for longer than the stream's threshold is greyed and reads "last heard N s ago",
   a stalled stream turns the live indicator red ("offline since HH:MM:SS") and shows a banner,
   and the page reconnects to the present (never a replayed backlog). The last state is kept in
   the browser (and the page by the service worker) for a short outage. */
"use strict";
(() => {
  const {api, el, tip, palette, makeMap, minutes, confirmAction, may, t, num} = dropline;
  const $ = (id) => document.getElementById(id);
  const STORE = "dropline.fleet.state";
  const initial = JSON.parse($("fleet-state").dataset.state);
  const asked = Number(new URLSearchParams(location.search).get("rate_hz"));
  const rateHz = asked > 0 ? asked : initial.rate_hz;
  let staleS = Math.max(5, 3 / rateHz);

  let map = null, routes = null, fitted = false;
  const vehicles = {};   // sysid -> {data, marker, track}
  let drops = {}, alerts = {}, run = null, routePoints = {};
  // server clock minus this browser's clock: the largest seen (the least delayed message)
  let offsetS = null;
  let lastServerT = null, lastHeardMs = Date.now(), offlineSinceMs = null, source = null;

  function observe(serverT) {
    const seen = serverT - Date.now() / 1000;
    if (offsetS === null || seen > offsetS) offsetS = seen;
    if (lastServerT === null || serverT > lastServerT) lastServerT = serverT;
  }
  const serverNow = () => Date.now() / 1000 + (offsetS ?? 0);
  const clockTime = (unixS) => new Date(unixS * 1000).toLocaleTimeString(dropline.lang, {hour12: false});
  const ago = (s) => s < 60 ? t("%(n)s s", {n: num(Math.max(0, s), 0)}) :
    s < 3600 ? t("%(min)s min %(s)s s", {min: num(Math.floor(s / 60), 0), s: num(Math.round(s % 60), 0)}) :
    t("%(n)s h", {n: num(s / 3600, 1, 1)});
  // what a vehicle is doing, a drop's state, a command (the server's codes, in words)
  const PHASES = {waiting: t("waiting"), configuring: t("configuring"), uploading: t("uploading"),
    ready: t("ready"), preflight: t("preflight"), arming: t("arming"), flying: t("flying"),
    returning: t("returning"), landed: t("landed"), landed_away: t("landed away"),
    turnaround: t("turnaround"), done: t("done"), failed: t("failed")};
  const DROP_STATES = {planned: t("planned"), queued: t("queued"), en_route: t("en route"),
    released: t("released"), delivered: t("delivered"), failed: t("failed")};
  const VERBS = {pause: t("pause"), resume: t("resume"), rtl: t("rtl"), land: t("land")};
  const VEHICLE_COMMANDS = {pause: t("PAUSE vehicle %(id)s"), resume: t("RESUME vehicle %(id)s"),
    rtl: t("RTL vehicle %(id)s"), land: t("LAND vehicle %(id)s")};
  const FLEET_COMMANDS = {pause: t("PAUSE every vehicle"), resume: t("RESUME every vehicle"),
    rtl: t("RTL every vehicle"), land: t("LAND every vehicle")};
  const named = (words, code) => Object.prototype.hasOwnProperty.call(words, code) ? words[code] : code;
  /* A vehicle's number as shown: its system id, with its hub in broker mode (where ``sysid`` is
     the console's id of hub and system id). */
  const vehicleId = (v) => v.hub === undefined || v.hub === null ? (v.sysid > 255 ? v.sysid % 256 : v.sysid) :
    t("%(hub)s/%(id)s", {hub: v.hub, id: v.hub_sysid});
  const systemText = (v) => v.hub === undefined || v.hub === null ?
    t("system %(id)s", {id: v.sysid > 255 ? v.sysid % 256 : v.sysid}) :
    t("hub %(hub)s system %(id)s", {hub: v.hub, id: v.hub_sysid});
  const vehicleName = (v) => v.name || t("vehicle %(id)s", {id: vehicleId(v)});
  const ageText = (age, stale) => age === null ? t("never heard") :
    stale ? t("last heard %(age)s ago", {age: ago(age)}) : t("heard %(age)s ago", {age: ago(age)});
  const vehicleResult = (x) => t("vehicle %(id)s: %(detail)s", {id: x.sysid, detail: x.detail});

  function message(text, error) {
    $("fleet-message").textContent = text;
    $("fleet-message").className = error ? "error" : "message";
  }

  async function command(label, url) {
    if (!(await confirmAction(t("%(action)s?", {action: label})))) return;
    try {
      const r = await api("POST", url);
      message(r.results.map(vehicleResult).join("\n") || t("done"), false);
    } catch (e) {
      const lines = e.body && e.body.results ? e.body.results.map(vehicleResult) : [];
      message(lines.concat([e.message]).join("\n"), true);
    }
  }

  function colourOf(v) {
    if (v.sortie_id) return dropline.sortieColour(v.sortie_id);   // as on the plan page
    const names = run ? Object.keys(run.assignment).sort() : [];
    const sysid = v.hub_sysid ?? v.sysid;
    const i = v.name ? names.indexOf(v.name) : sysid - 1;
    return palette[(i < 0 ? sysid : i) % palette.length];
  }

  // -- vehicle cards --------------------------------------------------------------------------
  function ageOf(v) { return v.heard_at === null || v.heard_at === undefined ? null : serverNow() - v.heard_at; }

  function card(v) {
    const colour = colourOf(v);
    const age = ageOf(v);
    const stale = age === null || age > staleS;
    const buttons = ["pause", "resume", "rtl", "land"].map((verb) => el("button", {
      class: "command", "data-verb": verb, "data-sysid": v.sysid, disabled: !may.has("command"),
      onclick: () => command(t(VEHICLE_COMMANDS[verb], {id: vehicleId(v)}),
                             `/api/fleet/vehicles/${v.sysid}/${verb}`)}, VERBS[verb]));
    const battery = v.battery_pct === null || v.battery_pct === undefined ? null : v.battery_pct;
    const now = [v.mode, v.armed ? t("ARMED") : null,
      v.phase ? t("phase %(phase)s", {phase: named(PHASES, v.phase)}) : null]
      .filter(Boolean).join(" · ");
    const eta = !v.current_drop ? "" : " · " + (v.eta_at ?
      t("drop %(drop)s in %(eta)s", {drop: v.current_drop, eta: minutes(Math.max(0, v.eta_at - serverNow()))}) :
      t("drop %(drop)s", {drop: v.current_drop}));
    const alt = (v.alt_agl_m ?? null) !== null ? t("alt %(m)s m AGL", {m: num(v.alt_agl_m, 1)}) :
      (v.terrain_agl_m ?? null) !== null ? t("alt %(m)s m AGL (vehicle's terrain)", {m: num(v.terrain_agl_m, 1)}) :
      t("alt %(m)s m above home (no terrain known)", {m: num(v.alt_rel_m, 1)});
    const batteryText = t("battery %(pct)s%%", {pct: battery === null ? "?" : num(battery, 0)});
    const node = el("div", {class: "card vehicle" + (stale ? " stale" : ""), id: "vehicle-" + v.sysid,
                            "data-stale": stale ? "true" : "false",
                            style: `border-left-color:${colour}` + (stale ? ";opacity:.6;filter:grayscale(1)" : "")},
      el("b", {}, vehicleName(v)), " · " + systemText(v) + " · ",
      stale ? el("b", {class: "stale-flag"}, t("STALE")) : el("span", {class: "mode"}, now),
      " · ", el("small", {class: "age", title: t("seconds since the vehicle's last message")},
        ageText(age, stale)),
      el("br"),
      stale ? el("small", {class: "was"}, t("last known: %(state)s", {state: now || "–"})) : null,
      stale ? el("br") : null,
      (v.sortie_id ? t("sortie %(id)s", {id: v.sortie_id}) : t("no sortie")) + eta, el("br"),
      el("span", {class: "alt"}, alt),
      " · " + t("%(speed)s m/s · loss %(loss)s%%",
                {speed: num(v.groundspeed_m_s, 1), loss: num(100 * (v.loss_rate || 0), 0)}),
      v.terrain_pending > 0 ? el("small", {class: "terrain-pending"},
        " · " + t("terrain: %(n)s tiles pending", {n: num(v.terrain_pending, 0)})) : null,
      el("div", {class: "battery", title: batteryText},
        el("div", {class: "left", style: `left:0;width:${battery ?? 0}%`})),
      el("small", {class: "battery-text"}, batteryText),
      el("div", {class: "row"}, ...buttons), v.message ? el("small", {class: "error"}, v.message) : null);
    return node;
  }

  function drawCard(d) {
    const old = $("vehicle-" + d.sysid);
    const fresh = card(d);
    if (old) old.replaceWith(fresh); else $("vehicles").append(fresh);
  }

  function placeOnMap(entry) {
    const d = entry.data;
    if (!map || d.lat_deg === null || d.lat_deg === undefined) return;
    if (!entry.track) entry.track = L.polyline([], {color: "#333", weight: 2}).addTo(map);
    const pos = [d.lat_deg, d.lon_deg];
    const away = d.field_landing;  // landed away from every depot: where to recover it
    if (!away && entry.recover) { entry.recover.remove(); entry.recover = null; }
    if (away && !entry.recover) {
      entry.recover = L.circleMarker([away.lat_deg, away.lon_deg], {radius: 12, color: "#b71c1c", weight: 3,
        fillOpacity: 0.15}).bindTooltip(tip(t("recover here: %(vehicle)s · %(km)s km from %(depot)s",
        {vehicle: vehicleName(d), km: num(away.distance_m / 1000, 1, 1), depot: away.depot_id})),
        {permanent: true}).addTo(map);
    }
    if (!entry.marker) {
      entry.marker = L.circleMarker(pos, {radius: 7, weight: 2, fillOpacity: 0.9})
        .bindTooltip(tip(systemText(d))).addTo(map);
    }
    const stale = (ageOf(d) ?? Infinity) > staleS;
    entry.marker.setLatLng(pos).setStyle({color: "#000", fillColor: stale ? "#999" : colourOf(d)});
    entry.track.setStyle({color: colourOf(d)});
    const pts = entry.track.getLatLngs();
    const last = pts[pts.length - 1];
    if (!last || last.lat !== pos[0] || last.lng !== pos[1]) entry.track.addLatLng(pos);
    if (!fitted) { map.setView(pos, 12); fitted = true; }
  }

  /* Broker mode: a vehicle's ``sysid`` is the console's id of its hub and system id (above
     255, the system id in its low byte); its hub comes with /api/fleet, not with the live
     stream, and is asked for (at most every 5 s) when an unknown one shows. */
  const hubOf = {};
  let hubsAskedMs = 0;
  async function learnHubs() {
    if (Date.now() - hubsAskedMs < 5000) return;
    hubsAskedMs = Date.now();
    try {
      const s = await api("GET", "/api/fleet");
      for (const v of s.vehicles) {
        if (v.hub === undefined || v.hub === null) continue;
        hubOf[v.sysid] = {hub: v.hub, hub_sysid: v.hub_sysid};
        if (vehicles[v.sysid]) updateVehicle({sysid: v.sysid});
      }
    } catch (e) { /* asked again with the next unknown vehicle */ }
  }

  function updateVehicle(v) {
    const entry = vehicles[v.sysid] || (vehicles[v.sysid] = {data: {}, marker: null, track: null});
    Object.assign(entry.data, v, hubOf[v.sysid] || {});
    if (v.sysid > 255 && !hubOf[v.sysid]) learnHubs();
    placeOnMap(entry);
    drawCard(entry.data);
  }

  function removeVehicle(sysid) {
    const entry = vehicles[sysid];
    if (!entry) return;
    if (entry.marker) entry.marker.remove();
    if (entry.track) entry.track.remove();
    delete vehicles[sysid];
    const node = $("vehicle-" + sysid);
    if (node) node.remove();
  }

  // -- drops, routes, alerts ------------------------------------------------------------------
  function drawRoutes() {
    if (!map) return;
    routes.clearLayers();
    for (const [sortie, pts] of Object.entries(routePoints)) {
      L.polyline(pts, {color: "#555", weight: 2, dashArray: "6 4", opacity: 0.7})
        .bindTooltip(tip(t("planned %(sortie)s", {sortie}))).addTo(routes);
    }
    for (const d of Object.values(drops)) {
      L.circleMarker([d.lat_deg, d.lon_deg], {radius: 5, color: d.state === "delivered" ? "#2e7d32" :
        d.state === "failed" ? "#b71c1c" : "#f9a825", fillOpacity: 0.8})
        .bindTooltip(tip(d.drop_id, d.kind === "pickup" ? " (" + t("pickup") + ")" : "", ": ",
          d.kind === "pickup" && d.state === "released" ? t("collected") :
            named(DROP_STATES, d.state),
          d.as_of ? " · " + t("as of %(time)s", {time: clockTime(d.as_of)}) : ""))
        .addTo(routes);
    }
  }

  function dropSummary() {
    const all = Object.values(drops);
    const count = (s) => all.filter((d) => d.state === s).length;
    $("drop-summary").textContent = all.length ? t(
      "%(delivered)s of %(total)s delivered · %(en_route)s en route · %(queued)s queued · %(failed)s failed",
      {delivered: num(count("delivered"), 0), total: num(all.length, 0), en_route: num(count("en_route"), 0),
       queued: num(count("queued"), 0), failed: num(count("failed"), 0)}) : t("no plan flying");
    const age = lastServerT === null ? null : serverNow() - lastServerT;
    $("drop-age").textContent = age === null ? "" :
      " · " + t("as of %(time)s (%(age)s ago)", {time: clockTime(lastServerT), age: ago(age)});
    $("drop-age").className = age !== null && age > staleS ? "error stale" : "";
  }

  function drawAlerts() {  // time, severity, cause, advice, ack where needed, ringing: alerts.js
    dropline.alerts.draw($("alerts"), Object.values(alerts), {now: serverNow, error: (m) => message(m, true)});
  }

  // new system ids heard on a listening link wait for an operator; spoofed packets are flagged
  let unconfirmedShown = "";
  function unconfirmedItem(u) {
    const where = u.address ? t("%(link)s from %(address)s", {link: u.link_url, address: u.address}) :
      u.link_url;
    return el("li", {id: "unconfirmed-" + u.sysid}, t("system %(id)s on %(where)s", {id: u.sysid, where}) + " ",
      el("button", {class: "command accept", "data-sysid": u.sysid, disabled: !may.has("command"),
        onclick: () => command(t("Accept system %(id)s heard on %(where)s as a vehicle", {id: u.sysid, where}),
                               `/api/fleet/vehicles/${u.sysid}/accept`)}, t("Accept")));
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
      f.count === 1 ? t("%(message)s (%(n)s packet)", {message: f.message, n: num(f.count, 0)}) :
        t("%(message)s (%(n)s packets)", {message: f.message, n: num(f.count, 0)}))));
  }

  function runState() {
    if (!run) { $("run-state").textContent = t("no plan uploaded"); return; }
    $("run-state").textContent = t("plan %(id)s", {id: run.plan_id}) + " · " + (run.finished ? t("finished") :
      run.started ? t("flying") : t("uploaded, ready to start")) +
      (run.resumed ? " · " + t("resumed after a restart") : "");
  }

  // -- state: inlined, streamed, kept ---------------------------------------------------------
  function applyState(s) {
    observe(s.t);
    if (s.stale_s) staleS = s.stale_s;
    if (!run || !s.run || run.plan_id !== s.run.plan_id || run.run_id !== s.run.run_id) routePoints = {};
    run = s.run; drops = {}; alerts = {};
    s.drops.forEach((d) => { drops[d.drop_id] = Object.assign({as_of: s.t}, d); });
    s.alerts.forEach((a) => { alerts[a.id] = a; });
    for (const sysid of Object.keys(vehicles)) if (!(sysid in s.vehicles)) removeVehicle(sysid);
    for (const v of Object.values(s.vehicles)) updateVehicle(v);
    $("links").replaceChildren(...s.links.filter((l) => !l.open).map((l) =>
      el("p", {class: "error"}, t("link %(url)s: %(error)s", {url: l.url, error: l.error}))));
    drawRoutes(); dropSummary(); drawAlerts(); runState(); drawTrust(s);
  }

  function keep() {
    try {
      localStorage.setItem(STORE, JSON.stringify({t: lastServerT, offset_s: offsetS, run,
        vehicles: Object.fromEntries(Object.entries(vehicles).map(([k, e]) => [k, e.data])),
        drops: Object.values(drops), alerts: Object.values(alerts), links: [],
        unconfirmed: [], link_flags: []}));
    } catch (e) { /* storage full or denied: the page still works */ }
  }
  function kept() {
    try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { return null; }
  }

  /* Routes and tracks are for the map only: fetched once the map is there (and when a new
     run starts), never before the cards. */
  async function loadMapData() {
    if (!map) return;
    try {
      const s = await api("GET", "/api/fleet");
      routePoints = s.run ? s.run.routes : {};
      for (const [sysid, pts] of Object.entries(s.tracks)) {
        const entry = vehicles[sysid];
        if (entry && entry.track) entry.track.setLatLngs(pts);
      }
      drawRoutes();
    } catch (e) { /* the next run or reconnection fetches them again */ }
  }

  function setLive(on) {
    const live = $("live"), banner = $("offline-banner");
    if (on) {
      offlineSinceMs = null;
      if (live) { live.className = "live on"; live.textContent = t("live"); live.title = t("live data"); }
      banner.hidden = true;
      return;
    }
    if (offlineSinceMs === null) offlineSinceMs = lastHeardMs;
    const since = clockTime(offlineSinceMs / 1000);
    if (live) {
      live.className = "live off"; live.textContent = t("offline since %(time)s", {time: since});
      live.title = t("no live data");
    }
    banner.hidden = false;
    banner.textContent = lastServerT === null ?
      t("Offline since %(time)s: showing the last known state.", {time: since}) :
      t("Offline since %(time)s: showing the last known state, %(age)s old.",
        {time: since, age: ago(serverNow() - lastServerT)});
  }

  function heard() { lastHeardMs = Date.now(); if (offlineSinceMs !== null) setLive(true); }

  function connect() {
    if (source) source.close();
    source = new EventSource(`/api/fleet/live?rate_hz=${encodeURIComponent(rateHz)}`);
    const on = (kind, handle) => source.addEventListener(kind, (ev) => {
      heard();
      handle(JSON.parse(ev.data));
    });
    on("state", (s) => {
      applyState(s); setLive(true); keep();
      if (run && Object.keys(routePoints).length === 0) loadMapData();   // a new run's routes
    });
    on("tick", (e) => {
      observe(e.t);
      for (const [sysid, change] of Object.entries(e.v)) {
        if (change === null) removeVehicle(sysid); else updateVehicle(Object.assign({sysid: Number(sysid)}, change));
      }
      dropSummary();
      if (Date.now() - keptMs > 5000) { keep(); keptMs = Date.now(); }
    });
    on("trust", drawTrust);
    on("drop", (e) => {
      drops[e.drop.drop_id] = Object.assign({}, e.drop, {as_of: serverNow()});
      dropSummary(); drawRoutes();
    });
    on("alert", (e) => { alerts[e.alert.id] = e.alert; drawAlerts(); });
    on("ack", (e) => { if (alerts[e.alert_id]) { alerts[e.alert_id].acked_by = e.by; drawAlerts(); } });
    source.onopen = heard;
  }
  let keptMs = 0;

  /* Once a second: ages move on; a vehicle past the threshold turns stale; a stream silent
     for as long goes offline. Its connection is kept through a short outage (a new one could
     wait behind the map's downloads for a free connection; the little the old one missed
     comes at once when the link returns); silent for longer, the stream is opened again and
     starts with the present state. */
  let reconnectMs = 0;
  const reconnectAfterMs = () => Math.max(30, 4 * staleS) * 1000;
  function everySecond() {
    for (const entry of Object.values(vehicles)) {
      const node = $("vehicle-" + entry.data.sysid);
      const stale = (ageOf(entry.data) ?? Infinity) > staleS;
      if (!node || (node.dataset.stale === "true") !== stale) { drawCard(entry.data); placeOnMap(entry); continue; }
      const age = ageOf(entry.data);
      node.querySelector(".age").textContent = ageText(age, stale);
    }
    dropSummary();
    const silentMs = Date.now() - lastHeardMs;
    if (silentMs > staleS * 1000) {
      setLive(false);
      if (silentMs > reconnectAfterMs() && Date.now() - reconnectMs > reconnectAfterMs()) {
        reconnectMs = Date.now(); connect();
      }
    }
  }

  // -- the map, after the cards ---------------------------------------------------------------
  function loadLeaflet() {
    const assets = $("fleet-assets").dataset;
    document.head.append(el("link", {rel: "stylesheet", href: assets.leafletCss}));
    return new Promise((resolve, reject) => {
      const script = el("script", {src: assets.leafletJs});
      script.addEventListener("load", resolve);
      script.addEventListener("error", () => reject(new Error(t("the map library did not load"))));
      document.body.append(script);
    });
  }
  async function startMap() {
    try { await loadLeaflet(); } catch (e) { message(e.message, true); return; }
    map = makeMap("map");
    routes = L.layerGroup().addTo(map);
    for (const entry of Object.values(vehicles)) placeOnMap(entry);
    await loadMapData();
  }

  // -- commands -------------------------------------------------------------------------------
  async function loadPlans() {
    const p = await api("GET", "/api/plans");
    $("fleet-plan").replaceChildren(el("option", {value: ""}, t("(a planned plan)")),
      ...p.plans.filter((r) => r.state === "done").map((r) =>
        el("option", {value: r.id}, `${r.name} · ${r.id}`)));
  }

  // parcels a run of the plan delivered are skipped unless the operator re-sends them (audited)
  const resend = el("input", {type: "checkbox", id: "resend-delivered",
    disabled: !may.has("command")});
  $("upload-plan").after(el("label", {title: t("fly sorties whose parcels were delivered again")},
    resend, " " + t("re-send delivered parcels")));
  $("upload-plan").onclick = async () => {
    const id = $("fleet-plan").value;
    if (!id) { message(t("choose a planned plan first"), true); return; }
    const ask = resend.checked ?
      t("Upload plan %(id)s to the vehicles and fly its delivered parcels AGAIN and verify it?", {id}) :
      t("Upload plan %(id)s to the vehicles and verify it?", {id});
    if (!(await confirmAction(ask))) return;
    message(t("uploading…"), false);
    try {
      const r = await api("POST", "/api/fleet/upload", {plan_id: id, resend_delivered: resend.checked});
      resend.checked = false;
      message(r.results.map((x) => t("%(name)s (system %(id)s): %(detail)s",
        {name: x.name, id: x.sysid, detail: x.detail}))
        .concat(Object.values(r.skipped || {})).join("\n"), false);
    } catch (e) {
      const lines = e.body && e.body.results ? e.body.results.map((x) => t("%(name)s: %(detail)s", {name: x.name, detail: x.detail})) : [];
      message(lines.concat([e.message]).join("\n"), true);
    }
    connect();   // the uploaded run's state, then its routes
  };
  $("start-plan").onclick = () => command(t("Start the uploaded plan"), "/api/fleet/start");
  document.querySelectorAll("button.all").forEach((b) => {
    b.onclick = () => command(named(FLEET_COMMANDS, b.dataset.verb), `/api/fleet/all/${b.dataset.verb}`);
  });

  // -- start: the cards, the stream, then the map, the plans and the offline copy -------------
  const last = kept();
  if (last && last.t > initial.t) {   // the page itself came from the offline copy
    if (last.offset_s !== null && last.offset_s !== undefined) offsetS = last.offset_s;
    applyState(last);
  } else applyState(initial);
  connect();
  setInterval(everySecond, 1000);
  window.addEventListener("online", () => { reconnectMs = Date.now(); connect(); });
  window.addEventListener("load", () => {
    startMap();
    if (may.has("command")) loadPlans().catch((e) => message(e.message, true));
    const worker = $("fleet-assets").dataset.serviceWorker;
    if ("serviceWorker" in navigator && worker) navigator.serviceWorker.register(worker).catch(() => {});
  });
})();
