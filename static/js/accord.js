/* Accord's page behaviour, here rather than in inline handlers (the Content-Security-Policy
   allows no inline script). Every page works without it; it only saves a click. */
(function () {
  "use strict";

  // <select data-autosubmit>: choosing an option submits its form (a <noscript> button
  // does it without JavaScript).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("select[data-autosubmit]") && field.form) {
      if (field.form.requestSubmit) {
        field.form.requestSubmit();
      } else {
        field.form.submit();
      }
    }
  });

  // <button data-print>: prints the page.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });

  // <… data-js-only hidden>: controls that need this script, shown once it runs.
  function reveal() {
    document.querySelectorAll("[data-js-only][hidden]").forEach(function (element) {
      element.hidden = false;
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", reveal);
  } else {
    reveal();
  }
})();
