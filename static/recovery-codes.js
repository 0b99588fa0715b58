// The recovery codes just made: Copy, Download (a text file) and Print. Without JavaScript
// the buttons stay hidden and the codes are plain text to select.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var actions = document.querySelector(".code-actions");
  var list = document.getElementById("recovery-codes");
  if (!actions || !list) return;
  var codes = Array.prototype.map.call(list.querySelectorAll("code"), function (c) {
    return c.textContent.trim();
  });
  var text = codes.join("\n") + "\n";
  var status = actions.querySelector(".code-actions-status");
  actions.hidden = false;
  actions.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-codes-action]");
    if (!button) return;
    var action = button.getAttribute("data-codes-action");
    if (action === "copy" && navigator.clipboard) {
      navigator.clipboard.writeText(text).then(function () {
        if (status) status.textContent = actions.getAttribute("data-copied-text") || "";
      });
    } else if (action === "download") {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      link.download = actions.getAttribute("data-file-name") || "recovery-codes.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
    } else if (action === "print") {
      window.print();
    }
  });
});
