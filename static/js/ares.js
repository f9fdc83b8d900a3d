// "Fill from ARES" without leaving the page: the proposal is fetched and shown in place, and
// "Apply these changes" copies ARES's values into the form. Without this script both buttons
// post the form and the server re-renders it the same way.
(function () {
  "use strict";
  var form = document.querySelector(".client-form");
  var box = document.getElementById("ares-proposal");
  if (!form || !box || !window.fetch || !window.FormData) { return; }

  function lookUp(button) {
    button.disabled = true;
    box.setAttribute("aria-busy", "true");
    box.innerHTML = '<p class="muted" role="status"></p>';
    box.firstChild.textContent = box.dataset.busyText;
    fetch(button.getAttribute("formaction"), {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin"
    })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        box.innerHTML = html;
        button.disabled = false;
        box.removeAttribute("aria-busy");
      })
      .catch(function () {
        // Let the server answer with the whole page instead.
        button.disabled = false;
        form.requestSubmit(button);
      });
  }

  function apply() {
    box.querySelectorAll('input[name^="ares-"]').forEach(function (input) {
      var field = form.elements.namedItem(input.name.slice("ares-".length));
      if (field) {
        field.value = input.value;
        field.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
    box.innerHTML = '<p class="ares-applied" role="status"></p>';
    box.firstChild.textContent = box.dataset.appliedText;
  }

  form.addEventListener("click", function (event) {
    var lookup = event.target.closest("[data-ares-lookup]");
    var applyButton = event.target.closest("[data-ares-apply]");
    if (lookup) {
      event.preventDefault();
      lookUp(lookup);
    } else if (applyButton) {
      event.preventDefault();
      apply();
    }
  });
})();
