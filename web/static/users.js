/* The account page (every user changes their own password) and, for admins, the user table
   (role, disable, password reset, delete) and the audit log a page at a time. Everything is
   built with dropline.el (text nodes, never HTML from data). */
"use strict";
(() => {
  const {api, el, confirmAction, t, dateTime} = dropline;
  const roles = ["operator", "crew", "engineer", "admin"];

  function say(node, text, ok) {
    if (!node) return;
    node.textContent = text;
    node.className = ok ? "message" : "error";
  }

  /* Your password: the current one is needed; other sessions end. */
  const passwordMessage = document.getElementById("password-message");
  document.getElementById("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    try {
      await api("POST", "/api/me/password", {current_password: form.get("current_password"),
        new_password: form.get("new_password")});
      ev.target.reset();
      say(passwordMessage, t("password changed; your other sessions have ended"), true);
    } catch (e) { say(passwordMessage, e.message, false); }
  });

  const table = document.getElementById("users");
  if (!table) return;
  const message = document.getElementById("users-message");
  const me = document.body.dataset.user;

  async function act(fn, done) {
    let ok = true, text = done;
    try { await fn(); } catch (e) { ok = false; text = e.message; }
    await loadUsers();
    say(message, text, ok);
  }

  const roleNames = {operator: t("operator"), crew: t("crew"), engineer: t("engineer"),
                     admin: t("admin")};

  function userRow(u) {
    const user = u.username;
    const role = el("select", {class: "role", "data-user-id": String(u.id),
      "aria-label": t("role of %(user)s", {user})},
      ...roles.map((r) => el("option", {value: r, selected: r === u.role}, roleNames[r])));
    role.addEventListener("change", () => act(
      () => api("PATCH", "/api/users/" + u.id, {role: role.value}),
      t("role of %(user)s changed to %(role)s", {user, role: roleNames[role.value]})));
    const toggle = el("button", {type: "button", class: "toggle"},
                      u.disabled ? t("Enable") : t("Disable"));
    toggle.addEventListener("click", () => act(
      () => api("PATCH", "/api/users/" + u.id, {disabled: !u.disabled}),
      u.disabled ? t("%(user)s enabled", {user}) : t("%(user)s disabled; its sessions ended", {user})));
    const password = el("input", {type: "password", placeholder: t("new password"),
      minlength: "8", autocomplete: "new-password",
      "aria-label": t("new password of %(user)s", {user})});
    const reset = el("button", {type: "button", class: "reset"}, t("Set"));
    reset.addEventListener("click", () => act(
      () => api("POST", "/api/users/" + u.id + "/password", {password: password.value}),
      t("password of %(user)s set; its sessions ended", {user})));
    const remove = el("button", {type: "button", class: "delete"}, t("Delete"));
    remove.addEventListener("click", async () => {
      if (!await confirmAction(t("Delete the account %(user)s?", {user}))) return;
      await act(() => api("DELETE", "/api/users/" + u.id), t("%(user)s deleted", {user}));
    });
    return el("tr", {class: u.disabled ? "disabled" : null},
      el("td", {}, user, user === me ? " " + t("(you)") : ""), el("td", {}, role),
      el("td", {}, u.disabled ? t("disabled") + " " : t("enabled") + " ", toggle), el("td", {}, u.sessions),
      el("td", {}, password, reset), el("td", {}, remove));
  }

  async function loadUsers() {
    const tbody = table.querySelector("tbody");
    try {
      const {users} = await api("GET", "/api/users");
      tbody.replaceChildren(...users.map(userRow));
    } catch (e) { say(message, e.message, false); }
  }

  document.getElementById("new-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    await act(async () => {
      await api("POST", "/api/users", {username: form.get("username"),
        password: form.get("password"), role: form.get("role")});
      ev.target.reset();
    }, t("user %(user)s created", {user: form.get("username")}));
  });

  /* The audit log, newest first; "Older" follows the cursor of the page shown. */
  const audit = document.getElementById("audit").querySelector("tbody");
  const older = document.getElementById("audit-older");
  const filter = document.getElementById("audit-filter");
  let next = null;

  async function loadAudit(before) {
    const form = new FormData(filter);
    const query = new URLSearchParams({limit: "50"});
    if (before) query.set("before", before);
    for (const key of ["user", "action"]) if (form.get(key)) query.set(key, form.get(key));
    try {
      const page = await api("GET", "/api/audit?" + query);
      audit.replaceChildren(...page.audit.map((r) => el("tr", {class: "result-" + r.result},
        el("td", {}, dateTime(r.at, {dateStyle: "short", timeStyle: "medium"})), el("td", {}, r.username),
        el("td", {}, r.action), el("td", {}, r.target), el("td", {}, r.result),
        el("td", {}, r.detail || ""))));
      next = page.next_before;
      older.disabled = next === null;
    } catch (e) { say(message, e.message, false); }
  }

  filter.addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(null); });
  document.getElementById("audit-newest").addEventListener("click", () => loadAudit(null));
  older.addEventListener("click", () => { if (next !== null) loadAudit(next); });
  loadUsers();
  loadAudit(null);
})();
