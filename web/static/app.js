// tidings: the little script the app needs; no inline script anywhere (CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A user without a time zone gets the browser's, once.
  const body = document.body;
  const csrf = document.querySelector('input[name="csrf_token"]');
  if (body.dataset.setZone === "1" && csrf) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) {
      const form = new URLSearchParams({ time_zone: zone, auto: "1", csrf_token: csrf.value });
      fetch("/settings/timezone", { method: "POST", body: form, credentials: "same-origin" });
    }
  }
  // Fill the settings form's zone field with the browser's zone on request.
  const use = document.getElementById("use-browser-zone");
  if (use) {
    use.addEventListener("click", (ev) => {
      ev.preventDefault();
      document.querySelector('input[name="time_zone"]').value = Intl.DateTimeFormat().resolvedOptions().timeZone;
    });
  }
  // Destructive forms carry data-confirm: ask before sending.
  document.querySelectorAll("form[data-confirm]").forEach((f) => {
    f.addEventListener("submit", (ev) => {
      if (!window.confirm(f.dataset.confirm)) ev.preventDefault();
    });
  });
});
