// Submits the first form marked data-autosubmit, as the SAML 2.0 HTTP-POST binding expects
// (saml-bindings-2.0-os §3.5.4). The script is a separate file, not inline, so a strict
// Content-Security-Policy (script-src 'self') still allows it. Without JavaScript the page keeps
// a visible Continue button, so the flow works either way.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (!form || form.getAttribute("data-submitted")) {
    return;
  }
  form.setAttribute("data-submitted", "true");
  form.submit();
})();
