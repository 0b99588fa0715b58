// The "Check your email" card: "Send it again" waits out a short countdown first, so a
// second click does not race the first mail. The server's sending budget is what limits
// mail; without JavaScript the button simply works at once.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-resend-after]").forEach(function (button) {
    var left = parseInt(button.getAttribute("data-resend-after"), 10) || 0;
    var text = button.getAttribute("data-wait-text") || "%(time)s";
    var status = button.parentNode.querySelector(".resend-wait");
    function show() {
      if (left <= 0) {
        button.disabled = false;
        if (status) status.textContent = "";
        return;
      }
      button.disabled = true;
      var time = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      if (status) status.textContent = text.replace("%(time)s", time);
      left -= 1;
      setTimeout(show, 1000);
    }
    show();
  });
});
