// Codes and keys to keep: a "Copy" button beside an authenticator key (data-copy-from names
// the element whose text it copies), and Copy, Download (a text file) and Print for the
// recovery codes just made. Without JavaScript the buttons stay hidden and the text is there
// to select.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy-from]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    var status = button.parentNode.querySelector(".copy-status");
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        if (status) status.textContent = button.getAttribute("data-copied-text") || "";
      });
    });
  });
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
