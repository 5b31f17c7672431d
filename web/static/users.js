"use strict";
(() => {
  const {api} = dropline;
  const message = document.getElementById("users-message");
  document.getElementById("new-user").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    try {
      await api("POST", "/api/users", {username: form.get("username"),
        password: form.get("password"), role: form.get("role")});
      location.reload();
    } catch (e) { message.textContent = e.message; message.className = "error"; }
  });
  document.querySelectorAll("select.role").forEach((s) => s.addEventListener("change", async () => {
    try {
      await api("PATCH", "/api/users/" + s.dataset.userId, {role: s.value});
      message.textContent = "role changed"; message.className = "message";
    } catch (e) { message.textContent = e.message; message.className = "error"; }
  }));
})();
