/* The fleet page's simulator panel: pick a vehicle, a fault and its value, confirm, inject.
   Only engineers and admins may inject; the others see the panel disabled. */
"use strict";
(() => {
  const {api, el, confirmAction, may, t} = dropline;
  const $ = (id) => document.getElementById(id);
  const allowed = may.has("simulate");
  let faults = {};

  function message(text, error) {
    $("sim-message").textContent = text;
    $("sim-message").className = error ? "error" : "message";
  }

  function hint() {
    const needs = faults[$("sim-fault").value] || "";
    $("sim-hint").textContent = needs;
    $("sim-value").disabled = !allowed || needs.startsWith("no value");
    if ($("sim-value").disabled) $("sim-value").value = "";
  }

  async function load() {
    const s = await api("GET", "/api/simulator");
    faults = {};
    s.faults.forEach((f) => { faults[f.name] = f.value; });
    $("sim-vehicle").replaceChildren(...s.vehicles.map((v) => el("option", {value: v}, t("vehicle %(id)s", {id: v}))));
    $("sim-fault").replaceChildren(...s.faults.map((f) => el("option", {value: f.name}, f.name)));
    document.querySelectorAll(".simulate").forEach((c) => { c.disabled = !allowed; });
    hint();
    if (!allowed) message(t("only engineers and admins inject faults"), false);
  }

  $("sim-fault").addEventListener("change", hint);
  $("sim-inject").addEventListener("click", async () => {
    const vehicle = Number($("sim-vehicle").value), fault = $("sim-fault").value;
    const value = $("sim-value").value.trim();
    if (!(await confirmAction(t("Inject %(fault)s into vehicle %(vehicle)s?",
      {fault: value ? fault + " " + value : fault, vehicle})))) return;
    try {
      const r = await api("POST", "/api/simulator/faults", {vehicle, fault, value});
      message(r.detail, false);
    } catch (e) {
      message(e.message, true);
    }
  });
  load().catch((e) => message(e.message, true));
})();
