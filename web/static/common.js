/* Shared by every console page: API calls with the CSRF token, live events that reconnect and
   catch up (Last-Event-ID), the confirm dialog, the map with offline hillshade tiles, and the
   page's language: t() translates a message with the catalogue the page embeds, num() and
   dateTime() format numbers and times in the language of <html lang> (units stay metric). */
"use strict";
const dropline = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const body = document.body;
  const lang = document.documentElement.lang || "en";
  const messages = (() => {
    try { return JSON.parse(body.dataset.messages || "{}"); } catch (e) { return {}; }
  })();

  /* A message in the page's language; with ``values``, %(name)s placeholders take values[name]
     and %% is a percent sign (the result goes into textContent, never parsed as HTML). */
  function t(text, values) {
    const out = Object.prototype.hasOwnProperty.call(messages, text) && messages[text]
      ? messages[text] : text;
    if (!values) return out;
    return out.replace(/%\((\w+)\)s|%%/g, (whole, key) => {
      if (key === undefined) return "%";
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  const numberFormats = new Map();
  /* A number with at most ``digits`` decimals (at least ``minDigits``) in the page's language;
     "–" for a missing value. */
  function num(value, digits = 1, minDigits = 0) {
    if (value === null || value === undefined || Number.isNaN(Number(value))) return "–";
    const key = digits + "/" + minDigits;
    if (!numberFormats.has(key)) numberFormats.set(key, new Intl.NumberFormat(lang,
      {maximumFractionDigits: digits, minimumFractionDigits: Math.min(minDigits, digits)}));
    return numberFormats.get(key).format(Number(value));
  }

  /* A Unix time (s) as a date and time in the page's language and the browser's time zone;
     ``options`` are Intl.DateTimeFormat's (default: medium date, short time). */
  function dateTime(epochS, options) {
    if (epochS === null || epochS === undefined) return "–";
    return new Intl.DateTimeFormat(lang, options || {dateStyle: "medium", timeStyle: "short"})
      .format(new Date(epochS * 1000));
  }
  const may = new Set((body.dataset.may || "").split(" ").filter(Boolean));
  const palette = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
                   "#f032e6", "#9a6324", "#800000", "#469990", "#000075", "#808000"];

  async function api(method, url, data) {
    const options = {method, headers: {"X-CSRFToken": csrf, "Accept": "application/json"},
                     credentials: "same-origin"};
    if (data instanceof FormData) options.body = data;
    else if (data !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(data);
    }
    const response = await fetch(url, options);
    let json = {};
    try { json = await response.json(); } catch (e) { json = {error: response.statusText}; }
    if (!response.ok) {
      const error = new Error(describeError(json));
      error.status = response.status; error.body = json;
      throw error;
    }
    return json;
  }

  function describeError(json) {
    return json.error || t("request failed");
  }

  /* Live events: EventSource resumes with Last-Event-ID by itself after a dropped stream; if
     it gives up (server restarted, network down for long) we open a new one from the last id. */
  function events(handlers, onReset) {
    let lastId = null, source = null;
    const live = document.getElementById("live");
    function connect() {
      const url = "/api/events" + (lastId !== null ? "?last_event_id=" + lastId : "");
      source = new EventSource(url);
      source.onopen = () => { if (live) live.className = "live on"; };
      source.onerror = () => {
        if (live) live.className = "live off";
        if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
      };
      const kinds = Object.keys(handlers).concat(["reset"]);
      for (const kind of kinds) {
        source.addEventListener(kind, (ev) => {
          lastId = ev.lastEventId;
          if (kind === "reset") { if (onReset) onReset(); return; }
          handlers[kind](JSON.parse(ev.data));
        });
      }
    }
    return {start(fromId) { lastId = fromId; connect(); },
            close() { if (source) source.close(); }, get lastId() { return lastId; }};
  }

  function confirmAction(text) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {once: true});
      dialog.showModal();
    });
  }

  function makeMap(id) {
    const map = L.map(id, {preferCanvas: true}).setView([44.3, -71.5], 9);
    const hillshade = L.tileLayer("/tiles/{z}/{x}/{y}.png",
      {maxZoom: 17, maxNativeZoom: 15, attribution: t("terrain: SRTM hillshade")}).addTo(map);
    const layers = {};
    layers[t("Hillshade (offline)")] = hillshade;
    if (body.dataset.tileUrl) layers[t("Online map")] = L.tileLayer(body.dataset.tileUrl, {maxZoom: 19});
    if (Object.keys(layers).length > 1) L.control.layers(layers).addTo(map);
    return map;
  }

  /* The element factory: every page builds its DOM with it. Children that are not nodes become
     text nodes (never parsed as HTML); "style" goes through the CSSOM (the CSP forbids style
     attributes); "on..." keys take listener functions only. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "style") node.style.cssText = v;
      else if (k.startsWith("on")) {
        if (typeof v !== "function") throw new TypeError(`${k} needs a function`);
        node.addEventListener(k.slice(2), v);
      } else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined)
      node.append(c instanceof Node ? c : String(c));
    return node;
  }

  /* Content for Leaflet's bindTooltip / bindPopup: a node holding the parts as text (a string
     given to Leaflet would be parsed as HTML). */
  function tip(...parts) { return el("span", {class: "tip"}, ...parts); }

  /* The colour of a sortie, the same on every page: sortie ids are numbered in plan order
     ("S001", "S002"...), so sortie n takes the palette's colour n - 1; an id without a number
     gets one from a hash of its text; no sortie at all, ``fallback`` (an index) or grey. */
  function sortieColour(sortieId, fallback) {
    if (sortieId === null || sortieId === undefined || sortieId === "") {
      return fallback === undefined ? "#777" : palette[Math.abs(fallback) % palette.length];
    }
    const number = /(\d+)$/.exec(String(sortieId));
    let i = number ? parseInt(number[1], 10) - 1 : 0;
    if (!number) for (const c of String(sortieId)) i = (i * 31 + c.charCodeAt(0)) % 9973;
    return palette[((i % palette.length) + palette.length) % palette.length];
  }

  /* Tables of class "stack" become stacked cards on a phone: every cell is labelled with its
     column's header (a data-label the style sheet shows), also in rows added later. */
  function labelCells(table) {
    const heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, i) => {
        if (heads[i] && cell.dataset.label !== heads[i]) cell.dataset.label = heads[i];
      });
    }
  }
  for (const table of document.querySelectorAll("table.stack")) {
    labelCells(table);
    new MutationObserver(() => labelCells(table)).observe(table, {childList: true, subtree: true});
  }

  function minutes(s) {
    return s === null || s === undefined ? "–" : t("%(n)s min", {n: num(s / 60, 1, 1)});
  }

  function batteryBar(usedPct, leftPct, reservePct) {
    const bar = el("div", {class: "battery", title: t(
      "uses %(used)s%% · lands with %(left)s%% · reserve %(reserve)s%%",
      {used: usedPct, left: leftPct, reserve: reservePct})});
    if (leftPct !== null) bar.append(el("div", {class: "left", style: `left:0;width:${leftPct}%`}));
    if (usedPct !== null) bar.append(el("div", {class: "used",
      style: `left:${leftPct}%;width:${usedPct}%`}));
    if (reservePct !== null) bar.append(el("div", {class: "reserve", style: `left:${reservePct}%`}));
    return bar;
  }

  return {api, events, confirmAction, makeMap, el, tip, palette, sortieColour, may, minutes,
          batteryBar, t, num, dateTime, lang};
})();
