// Latchkey's only script: a "Show" button beside each password field, and times shown in
// the reader's time zone. Without JavaScript the fields and forms work exactly the same;
// the button simply does not appear and times stay in UTC as the server wrote them.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The words, in the page's language, from base.html's <body data-…> (English without).
  var words = document.body.dataset;
  var show = words.show || "Show", hide = words.hide || "Hide";
  var showField = words.showField || "Show %(field)s";
  document.querySelectorAll('input[type="password"]').forEach(function (input) {
    if (!input.id) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "toggle-password";
    button.textContent = show;
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    var label = document.querySelector('label[for="' + input.id + '"]');
    var field = label ? label.textContent.trim() : "";
    button.setAttribute("aria-label", field ? showField.replace("%(field)s", field) : show);
    button.addEventListener("click", function () {
      var showing = input.type === "text";
      input.type = showing ? "password" : "text";
      button.textContent = showing ? show : hide;
      button.setAttribute("aria-pressed", showing ? "false" : "true");
      input.focus();
    });
    var wrapper = document.createElement("div");
    wrapper.className = "password-row";
    input.parentNode.insertBefore(wrapper, input);
    wrapper.appendChild(input);
    wrapper.appendChild(button);
  });
  // Submitting never sends a visible password field as text: restore the type first, so
  // the browser's password manager sees a password field.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button.toggle-password").forEach(function (button) {
        var input = document.getElementById(button.getAttribute("aria-controls"));
        if (input) input.type = "password";
      });
    });
  });
  // Times (<time class="local-time" datetime="...Z">, written in UTC by the server): shown
  // relative ("5 minutes ago") in the page's language, the exact local time on hover
  // (class "exact": the local time itself).
  var lang = document.documentElement.lang || undefined;
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  var units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  document.querySelectorAll("time.local-time[datetime], .activity-list time[datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    var exact = when.toLocaleString(lang, { dateStyle: "medium", timeStyle: "short" });
    el.title = exact;
    // A deadline ("remembered until") reads better as a date than as "in 12 months".
    if (!relative || el.classList.contains("exact")) { el.textContent = exact; return; }
    var seconds = Math.round((when.getTime() - Date.now()) / 1000);
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "second") {
        el.textContent = Math.abs(seconds) < 45 ? relative.format(0, "second") : relative.format(Math.round(seconds / units[i][1]), units[i][0]);
        break;
      }
    }
  });
});
