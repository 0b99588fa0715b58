// Latchkey's only script: a "Show" button beside each password field. Without JavaScript
// the fields and forms work exactly the same; the button simply does not appear.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll('input[type="password"]').forEach(function (input) {
    if (!input.id) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "toggle-password";
    button.textContent = "Show";
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    var label = document.querySelector('label[for="' + input.id + '"]');
    button.setAttribute("aria-label", "Show " + (label ? label.textContent.toLowerCase() : "password"));
    button.addEventListener("click", function () {
      var showing = input.type === "text";
      input.type = showing ? "password" : "text";
      button.textContent = showing ? "Show" : "Hide";
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
});
