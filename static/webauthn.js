// Passkeys: runs navigator.credentials for a form marked data-wan-ceremony="create" or
// "get", whose data-options hold the server's options (JSON, binary fields as base64url).
// The authenticator's answer goes into the form's hidden "credential" field as JSON and the
// form is submitted. Without JavaScript or WebAuthn the page says so (see the templates).
"use strict";
(function () {
  function fromB64url(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }
  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (d) {
      var copy = Object.assign({}, d);
      copy.id = fromB64url(d.id);
      return copy;
    });
  }
  function creationOptions(o) {
    var options = Object.assign({}, o);
    options.challenge = fromB64url(o.challenge);
    options.user = Object.assign({}, o.user, { id: fromB64url(o.user.id) });
    options.excludeCredentials = descriptors(o.excludeCredentials);
    return options;
  }
  function requestOptions(o) {
    var options = Object.assign({}, o);
    options.challenge = fromB64url(o.challenge);
    options.allowCredentials = descriptors(o.allowCredentials);
    return options;
  }
  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      response.userHandle = r.userHandle ? toB64url(r.userHandle) : null;
    }
    return JSON.stringify({
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: response,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || null
    });
  }
  function show(form, selector, text) {
    var el = form.querySelector(selector);
    if (!el) return;
    if (text) el.textContent = text;
    el.hidden = false;
  }
  function run(form) {
    var kind = form.getAttribute("data-wan-ceremony");
    var options = JSON.parse(form.getAttribute("data-options"));
    var call = kind === "create"
      ? navigator.credentials.create({ publicKey: creationOptions(options) })
      : navigator.credentials.get({ publicKey: requestOptions(options) });
    show(form, ".wan-waiting");
    return call.then(function (cred) {
      form.querySelector('input[name="credential"]').value = credentialJSON(cred);
      form.submit();
    }, function (err) {
      form.querySelector(".wan-waiting").hidden = true;
      show(form, ".wan-failed", "The passkey was not used (" + (err && err.name ? err.name : "error") + "). You can try again.");
      show(form, ".wan-retry");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".wan-needs-js").forEach(function (el) { el.hidden = true; });
    var forms = document.querySelectorAll("form[data-wan-ceremony]");
    forms.forEach(function (form) {
      if (!window.PublicKeyCredential || !navigator.credentials) {
        show(form, ".wan-unsupported");
        return;
      }
      var retry = form.querySelector(".wan-retry");
      if (retry) retry.addEventListener("click", function () { retry.hidden = true; run(form); });
      run(form);
    });
    if (!window.PublicKeyCredential) {
      document.querySelectorAll(".wan-start").forEach(function (el) { el.hidden = true; });
      document.querySelectorAll(".wan-unsupported-note").forEach(function (el) { el.hidden = false; });
    }
  });
})();
