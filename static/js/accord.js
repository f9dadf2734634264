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

  // <form data-confirm="consequence" data-confirm-label="…">: asks before posting, in the
  // dialog of <template id="confirm-dialog"> (Cancel is its default button). A <select>
  // option may carry its own data-confirm / data-confirm-label (a move to won or lost);
  // an empty consequence posts straight away. Confirming adds confirmed=yes; without this
  // script the server answers with a confirmation page instead.
  function consequenceOf(form, submitter) {
    var source = submitter && submitter.hasAttribute("data-confirm") ? submitter : null;
    if (!source) {
      var chosen = form.querySelector("select option:checked[data-confirm]");
      source = chosen || (form.hasAttribute("data-confirm") ? form : null);
    }
    if (!source || !source.getAttribute("data-confirm")) {
      return null;
    }
    return {
      text: source.getAttribute("data-confirm"),
      label: source.getAttribute("data-confirm-label") || "",
      title: source.getAttribute("data-confirm-title") || ""
    };
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var shape = document.getElementById("confirm-dialog");
    if (!form.matches || !form.matches("form[data-confirm], form[data-confirm-options]") || !shape) {
      return;
    }
    if (form.querySelector("input[name=confirmed][value=yes]")) {
      return;
    }
    var ask = consequenceOf(form, event.submitter);
    if (!ask || typeof HTMLDialogElement === "undefined") {
      return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    var dialog = shape.content.firstElementChild.cloneNode(true);
    if (ask.title) {
      dialog.querySelector("[data-confirm-title]").textContent = ask.title;
    }
    dialog.querySelector("[data-confirm-text]").textContent = ask.text;
    var yes = dialog.querySelector("[data-confirm-yes]");
    if (ask.label) {
      yes.textContent = ask.label;
    }
    document.body.appendChild(dialog);
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "yes") {
        var field = document.createElement("input");
        field.type = "hidden";
        field.name = "confirmed";
        field.value = "yes";
        form.appendChild(field);
        if (event.submitter && event.submitter.name) {
          var pressed = document.createElement("input");
          pressed.type = "hidden";
          pressed.name = event.submitter.name;
          pressed.value = event.submitter.value;
          form.appendChild(pressed);
        }
        form.submit();
      }
      dialog.remove();
    });
    dialog.showModal();
  }, true);

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
