/* The plan page: choose or upload a scenario, edit depots, zones and drones on the map, run the
   planner with a progress bar, and show sorties, profiles, battery use and unserved drops. */
"use strict";
(() => {
  const {api, el, tip, sortieColour, makeMap, minutes, batteryBar, events, may, t, num,
         dateTime} = dropline;
  const planStates = {draft: t("draft"), running: t("running"), done: t("done"),
                      failed: t("failed")};
  const stages = {routing: t("routing"), sorties: t("sorties"), drops: t("drops")};
  const stateName = (s) => planStates[s] || s;
  const $ = (id) => document.getElementById(id);
  const map = makeMap("map");
  const layers = {scenario: L.layerGroup().addTo(map), result: L.layerGroup().addTo(map),
                  draft: L.layerGroup().addTo(map)};
  let plan = null, edits = {}, mode = null, draftZone = [];

  async function loadLists(selectId) {
    const s = await api("GET", "/api/scenarios");
    $("scenario").replaceChildren(...s.scenarios.map((n) =>
      el("option", {value: n, selected: n === s.sample}, n)));
    const p = await api("GET", "/api/plans");
    const chosen = selectId || p.default;
    $("plans").replaceChildren(el("option", {value: ""}, t("(choose a plan)")), ...p.plans.map((r) =>
      el("option", {value: r.id, selected: r.id === chosen}, `${r.name} · ${r.id} · ${stateName(r.state)}`)));
    return chosen;
  }

  function currentDepots() { return edits.depots || plan.scenario.depots; }
  function currentZones() { return edits.nofly || plan.scenario.nofly; }

  function drawScenario() {
    layers.scenario.clearLayers();
    for (const z of currentZones()) {
      L.polygon(z.polygon.map(([lon, lat]) => [lat, lon]), {color: "#b71c1c", weight: 1,
        fillOpacity: 0.25}).bindTooltip(tip(t("no-fly:") + " ", z.name)).addTo(layers.scenario);
    }
    for (const d of currentDepots()) {
      L.marker([d.lat_deg, d.lon_deg], {title: t("depot %(id)s", {id: d.id})})
        .bindTooltip(tip(t("depot %(id)s", {id: d.id})))
        .addTo(layers.scenario);
    }
    if (!plan.result) {
      for (const d of plan.scenario.drops) {
        L.circleMarker([d.lat_deg, d.lon_deg], {radius: 4, color: "#555"})
          .bindTooltip(tip(d.id, " · ", t("%(kg)s kg", {kg: num(d.weight_kg, 2)}))).addTo(layers.scenario);
      }
    }
  }

  function depotEditor() {
    const types = plan.scenario.drone_types;
    const head = el("tr", {}, el("th", {}, t("Depot")), ...types.map((kind) => el("th", {}, kind)), el("th"));
    const rows = currentDepots().map((d, i) => el("tr", {},
      el("td", {}, `${d.id} (${num(d.lat_deg, 4, 4)}, ${num(d.lon_deg, 4, 4)})`),
      ...types.map((kind) => el("td", {}, el("input", {type: "number", min: 0, max: 50,
        value: d.drones[kind] || 0, class: "drones", "data-depot": i, "data-type": kind,
        onchange: (ev) => {
          const depots = structuredClone(currentDepots());
          depots[i].drones[kind] = parseInt(ev.target.value || "0", 10);
          edits.depots = depots;
        }}))),
      el("td", {}, el("button", {class: "needs-plan", disabled: !may.has("plan"), onclick: () => {
        edits.depots = currentDepots().filter((_, k) => k !== i); refresh();
      }}, t("remove")))));
    $("depots").replaceChildren(head, ...rows);
  }

  function zoneEditor() {
    $("zones").replaceChildren(...currentZones().map((z, i) => el("li", {}, z.name, " ",
      el("button", {onclick: () => { edits.nofly = currentZones().filter((_, k) => k !== i); refresh(); }},
        t("remove")))));
  }

  function refresh() { drawScenario(); depotEditor(); zoneEditor(); }

  map.on("click", (ev) => {
    if (mode === "depot") {
      const depots = structuredClone(currentDepots());
      const drones = {}; drones[plan.scenario.drone_types[0]] = 1;
      depots.push({id: "depot" + (depots.length + 1), lat_deg: ev.latlng.lat,
                   lon_deg: ev.latlng.lng, drones});
      edits.depots = depots; mode = null; refresh();
    } else if (mode === "zone") {
      draftZone.push([ev.latlng.lng, ev.latlng.lat]);
      layers.draft.clearLayers();
      L.polyline(draftZone.map(([lon, lat]) => [lat, lon]), {color: "#b71c1c", dashArray: "4"})
        .addTo(layers.draft);
    }
  });
  $("add-depot").onclick = () => { mode = "depot"; };
  $("draw-zone").onclick = () => { mode = "zone"; draftZone = []; $("finish-zone").disabled = false; };
  $("finish-zone").onclick = () => {
    if (draftZone.length >= 3) {
      edits.nofly = currentZones().concat([{name: t("zone %(n)s", {n: currentZones().length + 1}),
                                            polygon: draftZone}]);
    }
    mode = null; draftZone = []; layers.draft.clearLayers(); $("finish-zone").disabled = true; refresh();
  };

  function collectEdits() {
    const out = Object.assign({}, edits);
    const ids = $("drop-ids").value.split(/[\s,]+/).filter(Boolean);
    if (ids.length) out.drop_ids = ids; else delete out.drop_ids;
    const limit = parseFloat($("time-limit").value);
    if (limit > 0) out.time_limit_s = limit; else delete out.time_limit_s;
    delete out.dem;
    return out;
  }

  async function saveEdits() {
    $("edit-error").textContent = "";
    try { await api("PUT", `/api/plans/${plan.id}/edits`, collectEdits()); return true; }
    catch (e) { $("edit-error").textContent = e.message; return false; }
  }
  $("save-edits").onclick = async () => { if (await saveEdits()) openPlan(plan.id); };

  $("run-plan").onclick = async () => {
    if (!(await saveEdits())) return;
    try {
      await api("POST", `/api/plans/${plan.id}/run`);
      $("plan-state").textContent = stateName("running");
      $("progress").hidden = false; $("progress-bar").style.width = "0%";
      $("progress-text").textContent = t("starting");
      $("result").hidden = true; layers.result.clearLayers();
    } catch (e) { $("edit-error").textContent = e.message; }
  };

  $("upload").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("upload-error").textContent = "";
    const form = new FormData(ev.target);
    try { await api("POST", `/api/plans/${plan.id}/uploads`, form); openPlan(plan.id); }
    catch (e) { $("upload-error").textContent = e.message; }
  });

  $("new-plan").onclick = async () => {
    try {
      const r = await api("POST", "/api/plans", {scenario: $("scenario").value});
      await loadLists(r.id); openPlan(r.id);
    } catch (e) { $("edit-error").textContent = e.message; }
  };
  $("plans").onchange = () => { if ($("plans").value) openPlan($("plans").value); };

  function profileChart(p) {
    const w = 400, h = 120, pad = 4;
    const xs = p.distance_m, all = p.alt_amsl_m.concat(p.ground_amsl_m).filter((v) => v !== null);
    if (!xs.length || !all.length) return el("p", {}, t("no profile"));
    const lo = Math.min(...all), hi = Math.max(...all), xmax = xs[xs.length - 1] || 1;
    const X = (d) => pad + (w - 2 * pad) * d / xmax;
    const Y = (v) => h - pad - (h - 2 * pad) * (v - lo) / ((hi - lo) || 1);
    const line = (vals) => vals.map((v, i) => v === null ? "" : `${X(xs[i]).toFixed(1)},${Y(v).toFixed(1)}`)
      .filter(Boolean).join(" ");
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`); svg.setAttribute("class", "profile");
    const ground = document.createElementNS(ns, "polygon");
    ground.setAttribute("points", `${X(0)},${h} ${line(p.ground_amsl_m)} ${X(xmax)},${h}`);
    ground.setAttribute("fill", "#a1887f");
    const alt = document.createElementNS(ns, "polyline");
    alt.setAttribute("points", line(p.alt_amsl_m));
    alt.setAttribute("fill", "none"); alt.setAttribute("stroke", "#1565c0"); alt.setAttribute("stroke-width", "1.5");
    const title = document.createElementNS(ns, "title");
    title.textContent = t("terrain and altitude, %(lo)s–%(hi)s m AMSL over %(km)s km",
      {lo: num(lo, 0), hi: num(hi, 0), km: num(xmax / 1000, 1, 1)});
    svg.append(title, ground, alt);
    return svg;
  }

  function drawResult(result, files) {
    layers.result.clearLayers();
    const bounds = [];
    const sortieOf = {};
    $("sorties").replaceChildren(...result.sorties.map((s) => {
      const colour = sortieColour(s.id);
      L.polyline(s.track, {color: colour, weight: 3}).bindTooltip(tip(s.id, " · ", s.vehicle))
        .addTo(layers.result);
      s.track.forEach((p) => bounds.push(p));
      s.drop_ids.forEach((d) => { sortieOf[d] = s; });
      return el("div", {class: "card sortie", style: `border-left-color:${colour}`, "data-sortie": s.id},
        el("b", {}, s.id), " ", t("%(vehicle)s · drops %(drops)s",
          {vehicle: s.vehicle, drops: s.drop_ids.join(", ")}), el("br"),
        t("%(km)s km · %(duration)s · %(wh)s Wh · ", {km: num(s.distance_m / 1000, 1, 1),
          duration: minutes(s.duration_s), wh: num(s.energy_wh, 1)}),
        t("AGL %(lo)s–%(hi)s m", {lo: num(s.min_agl_m, 1), hi: num(s.max_agl_m, 1)}),
        batteryBar(s.energy_pct, s.landing_pct, s.reserve_pct),
        el("small", {}, t("battery: uses %(used)s%%, lands with %(left)s%%, reserve %(reserve)s%%",
          {used: s.energy_pct, left: s.landing_pct, reserve: s.reserve_pct})),
        profileChart(s.profile));
    }));
    const unserved = {};
    result.unserved.forEach((u) => { unserved[u.drop_id] = u.reason; });
    for (const d of plan.scenario.drops) {
      const s = sortieOf[d.id];
      const colour = s ? sortieColour(s.id) : "#777";
      L.circleMarker([d.lat_deg, d.lon_deg], {radius: 5, color: colour, fillOpacity: s ? 0.9 : 0.2})
        .bindTooltip(s ? tip(d.id, " → ", s.id)
                      : tip(d.id, ": ", t("unserved:"), " ", unserved[d.id] || ""))
        .addTo(layers.result);
    }
    $("unserved").replaceChildren(...result.unserved_groups.map((g) =>
      el("li", {class: "unserved-group", "data-kind": g.kind},
        el("b", {}, `${g.title} (${g.drops.length})`), ": ", el("i", {}, g.hint),
        el("ul", {}, ...g.drops.map((u) => el("li", {}, el("b", {}, u.drop_id), ": " + u.reason))))));
    const sum = result.summary;
    $("summary").textContent = t(
      "%(served)s of %(drops)s drops in %(sorties)s sorties on %(vehicles)s drones; makespan %(makespan)s, %(wh)s Wh",
      {served: sum.served, drops: sum.drops, sorties: sum.sorties, vehicles: sum.vehicles,
       makespan: minutes(sum.makespan_s), wh: num(sum.energy_wh, 1)});
    drawCost(sum.cost);
    $("downloads").replaceChildren(...files.map((f) => el("li", {},
      el("a", {href: `/api/plans/${plan.id}/files/${f}`, download: true}, f))));
    $("result").hidden = false;
    if (bounds.length) map.fitBounds(bounds, {padding: [20, 20]});
  }

  // The cost report: per parcel, per drone-km and per kg against the road, then each drop's
  // share of its sortie's cost beside its road cost as two bars (numbers only in styles).
  function drawCost(cost) {
    const box = $("cost");
    if (!cost || !cost.parcels) { box.replaceChildren(); $("cost-box").hidden = true; return; }
    const top = Math.max(0.01, ...cost.drops.map((d) => Math.max(d.drone_yuan, d.road_yuan)));
    const bar = (value, colour) => el("span", {class: "cost-bar", style:
      `display:inline-block;height:.7em;margin-right:.3em;background:${colour};` +
      `width:${(60 * Number(value) / top).toFixed(1)}%`});
    const cheaper = {drone: t("by drone"), road: t("by road"), same: t("same")};
    box.replaceChildren(
      el("p", {id: "cost-figures"}, t(
        "%(parcel)s yuan per parcel (road %(road)s), %(km)s yuan per drone-km, %(kg)s yuan per kg",
        {parcel: num(cost.cost_per_parcel_yuan, 2, 2), road: num(cost.road_per_parcel_yuan, 2, 2),
         km: num(cost.cost_per_drone_km_yuan, 2, 2), kg: num(cost.cost_per_kg_yuan, 2, 2)})),
      el("p", {id: "cost-parts"}, t(
        "energy %(kwh)s kWh %(energy)s yuan · battery %(cycles)s cycles %(battery)s yuan · flight %(hours)s h %(depreciation)s yuan · crew %(crew)s yuan",
        {kwh: num(cost.energy_kwh, 3), energy: num(cost.energy_yuan, 2, 2),
         cycles: num(cost.battery_cycles, 2), battery: num(cost.battery_wear_yuan, 2, 2),
         hours: num(cost.flight_h, 2), depreciation: num(cost.depreciation_yuan, 2, 2),
         crew: num(cost.crew_yuan, 2, 2)})),
      el("table", {id: "cost-drops"},
        el("tr", {}, el("th", {}, t("drop")), el("th", {}, t("by drone (yuan)")),
           el("th", {}, t("by road (yuan)")), el("th", {}, t("cheaper"))),
        ...cost.drops.map((d) => el("tr", {"data-cheaper": d.cheaper},
          el("td", {}, d.drop_id),
          el("td", {}, bar(d.drone_yuan, "#1e88e5"), num(d.drone_yuan, 2, 2)),
          el("td", {}, bar(d.road_yuan, "#8d6e63"), num(d.road_yuan, 2, 2)),
          el("td", {}, cheaper[d.cheaper] || d.cheaper)))));
    $("cost-box").hidden = false;
  }

  // Every version of the plan, newest first; flown ones are read-only (changes make a new one).
  function drawVersions() {
    $("versions").replaceChildren(...(plan.versions || []).map((v) => el("li",
      {class: v.version === plan.version ? "version current" : "version"},
      `v${v.version} · ${dateTime(v.created_at)} · ${v.created_by} · ${stateName(v.state)}`,
      v.read_only ? " · " + t("flown, read-only")
                  : (v.version === plan.version ? " · " + t("current") : ""),
      v.state === "done" ? " · " : null,
      v.state === "done" ? el("a", {href: `/api/plans/${plan.id}/versions/${v.version}/files/plan.json`,
        download: true}, "plan.json") : null)));
  }

  async function openPlan(id) {
    plan = await api("GET", "/api/plans/" + id);
    edits = {};
    if (plan.edits.depots) edits.depots = plan.edits.depots;
    if (plan.edits.nofly) edits.nofly = plan.edits.nofly;
    $("drop-ids").value = (plan.edits.drop_ids || []).join(", ");
    $("time-limit").value = plan.edits.time_limit_s || "";
    $("plan-panel").hidden = false;
    $("plan-title").textContent = `${plan.name} · ${plan.id}`;
    $("plan-state").textContent = stateName(plan.state);
    $("plan-error").textContent = plan.error || "";
    drawVersions();
    $("progress").hidden = plan.state !== "running";
    refresh();
    if (plan.result) drawResult(plan.result, plan.files);
    else {
      $("result").hidden = true; layers.result.clearLayers();
      const pts = currentDepots().map((d) => [d.lat_deg, d.lon_deg])
        .concat(plan.scenario.drops.map((d) => [d.lat_deg, d.lon_deg]));
      if (pts.length) map.fitBounds(pts, {padding: [20, 20]});
    }
  }

  const live = events({
    plan_progress: (e) => {
      if (!plan || e.plan_id !== plan.id) return;
      $("progress").hidden = false;
      $("progress-bar").style.width = e.percent + "%";
      $("progress-text").textContent = `${stages[e.stage] || e.stage} ${e.done}/${e.total}`;
    },
    plan_done: (e) => {
      if (!plan || e.plan_id !== plan.id) return;
      $("progress").hidden = true;
      loadLists(plan.id); openPlan(plan.id);
    },
  }, () => { if (plan) openPlan(plan.id); });
  loadLists(null).then((first) => { if (first) openPlan(first); live.start(null); });
})();
