/* Every drop of the plan being flown with its state, ETA and public tracking link. */
"use strict";
(() => {
  const {api, el, minutes, events, t} = dropline;
  const states = {planned: t("planned"), queued: t("queued"), en_route: t("en route"),
                  released: t("released"), delivered: t("delivered"), failed: t("failed")};
  const body = document.querySelector("#deliveries tbody");
  const drops = {};
  let planId = null;

  function draw() {
    body.replaceChildren(...Object.values(drops).map((d) => el("tr", {id: "drop-" + d.drop_id,
        class: "state-" + d.state},
      el("td", {}, d.drop_id + (d.kind === "pickup" ? " (" + t("pickup") + ")" : "")),
      el("td", {}, d.sortie_id), el("td", {}, d.vehicle),
      el("td", {class: "state"}, (d.kind === "pickup" && d.state === "released" ? t("collected") :
        states[d.state] || d.state) + (d.reason ? ` (${d.reason})` : "")),
      el("td", {}, d.state === "delivered" ? "–" : minutes(d.eta_in_s)),
      el("td", {}, d.token ? el("a", {href: "/track/" + d.token, class: "track-link"}, t("track")) : "–"))));
    document.getElementById("deliveries-plan").textContent =
      planId ? t("plan %(plan)s", {plan: planId}) : t("no plan is being flown");
  }

  async function load() {
    const r = await api("GET", "/api/deliveries");
    planId = r.plan_id;
    for (const k of Object.keys(drops)) delete drops[k];
    r.drops.forEach((d) => { drops[d.drop_id] = d; });
    draw();
  }

  const live = events({
    drop: (e) => { const old = drops[e.drop.drop_id] || {}; drops[e.drop.drop_id] = Object.assign(old, e.drop); draw(); },
    run: () => load(),
  }, () => load());
  load().then(() => live.start(null));
  setInterval(load, 10000);
})();
