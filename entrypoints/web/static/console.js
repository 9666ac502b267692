// chainwatch console: keyboard shortcuts, the review dialog and htmx error messages.
// Loaded as a file (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  function typing(event) {
    const t = event.target;
    return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
  }

  function rows() {
    return Array.from(document.querySelectorAll("table[data-inbox] tbody tr[data-anomaly]"));
  }

  function selected() {
    return document.querySelector("table[data-inbox] tbody tr.selected");
  }

  function select(row) {
    rows().forEach((r) => { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-selected", "true");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(selected());
    const next = at < 0 ? 0 : Math.min(Math.max(at + step, 0), all.length - 1);
    select(all[next]);
  }

  function openReview(status) {
    const row = selected();
    const dialog = document.getElementById("review-dialog");
    if (!row || !dialog) return;
    const form = document.getElementById("review-dialog-form");
    form.action = "/anomalies/" + row.dataset.anomaly + "/review";
    form.elements.next.value = location.pathname + location.search;
    form.querySelector('input[name="status"][value="' + status + '"]').checked = true;
    document.getElementById("review-dialog-what").textContent = row.dataset.hash.slice(0, 12) + "…";
    dialog.showModal();
    document.getElementById("review-dialog-note").focus();
  }

  function caseShortcut(key) {
    const choice = document.querySelector('#review-form input[data-shortcut="' + key + '"]');
    if (!choice) return false;
    choice.checked = true;
    document.getElementById("review-note").focus();
    return true;
  }

  // a: the selected anomaly (inbox) or this one (case view) is assigned to me.
  function assignToMe(inInbox) {
    const form = document.getElementById("assign-me-form");
    if (!form) return false;
    if (inInbox) {
      const row = selected();
      if (!row) return false;
      form.action = "/anomalies/" + row.dataset.anomaly + "/assign";
      form.elements.next.value = location.pathname + location.search;
    }
    if (form.querySelector("button[disabled]")) return false; // already mine
    form.requestSubmit();
    return true;
  }

  const verdicts = { c: "confirmed", d: "dismissed", e: "escalated" };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    if (document.querySelector("dialog[open]")) return;
    const key = event.key;
    const inInbox = !!document.querySelector("table[data-inbox]");
    if (key === "?") {
      const help = document.getElementById("shortcuts");
      if (help) help.classList.toggle("hidden");
    } else if (key === "/") {
      const filter = document.querySelector("#filters input, #filters select");
      if (filter) filter.focus();
    } else if (inInbox && (key === "j" || key === "k")) {
      move(key === "j" ? 1 : -1);
    } else if (inInbox && (key === "o" || key === "Enter") && selected()) {
      location.href = selected().querySelector("a.open").href;
    } else if (key in verdicts) {
      if (inInbox) openReview(verdicts[key]); else if (!caseShortcut(key)) return;
    } else if (key === "a") {
      if (!assignToMe(inInbox)) return;
    } else if (key === "u") {
      const back = document.querySelector("[data-shortcut-back]");
      if (back) location.href = back.href; else return;
    } else {
      return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    const close = event.target.closest("[data-close-dialog]");
    if (close) close.closest("dialog").close();
    const row = event.target.closest("table[data-inbox] tbody tr[data-anomaly]");
    if (row && !event.target.closest("a")) select(row);
  });

  // htmx leaves error responses unswapped: say what went wrong instead.
  document.addEventListener("htmx:responseError", function (event) {
    const flash = document.getElementById("flash");
    if (flash) flash.textContent = event.detail.xhr.responseText || "The request failed.";
  });
  document.addEventListener("htmx:afterSwap", function () {
    const flash = document.getElementById("flash");
    if (flash) flash.textContent = "";
  });
})();
