/* Served in place of leaflet.js when dropline was installed without its map library (Leaflet
   from npm, copied in when the package is built): a banner says so and how to fix it, and a
   stand-in L (every call returns it again) lets the rest of each page work without maps. */
"use strict";
(() => {
  const banner = document.createElement("div");
  banner.id = "leaflet-missing";
  banner.className = "leaflet-missing";
  banner.setAttribute("role", "alert");
  banner.textContent = "The map library (Leaflet) is missing from this installation of " +
    "dropline, so maps are not shown. To fix it, install npm and reinstall dropline " +
    "(pip install .), or run ./dev demo in a source checkout.";
  const show = () => document.body.prepend(banner);
  if (document.body) show();
  else document.addEventListener("DOMContentLoaded", show);

  const standIn = new Proxy(function () {}, {
    get: (_target, key) => {
      if (key === Symbol.toPrimitive) return () => "";
      if (key === "then") return undefined;    // not a promise
      return standIn;
    },
    apply: () => standIn,
    construct: () => standIn,
  });
  window.L = standIn;
  console.warn(banner.textContent);
})();
