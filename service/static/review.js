// The queue page's keyboard, claims, bulk actions and undo. The page works without it: every
// action is also a plain form. Talks to /v1/review with the session cookie and the CSRF header.
(() => {
  "use strict";

  const UNDO_SECONDS = 10;
  const list = document.querySelector(".items[data-status]");
  if (!list) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const tabStatus = list.dataset.status;
  const help = document.getElementById("help");
  const toast = document.getElementById("toast");
  const toastText = toast.querySelector(".toast-text");
  const toastUndo = toast.querySelector(".toast-undo");
  const bulkForm = document.getElementById("bulk-form");
  const selectedCount = document.querySelector("[data-selected]");

  let current = null; // the focused <article>
  let claimedId = null; // the comment this page holds a claim on
  let undoIds = null; // decision ids the toast can take back
  let undoTimer = null;

  const live = () => Array.from(list.querySelectorAll(".item:not(.busy)"));

  async function api(method, path, body) {
    const response = await fetch("/v1/review" + path, {
      method,
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrf,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  }

  function say(text, ids) {
    clearTimeout(undoTimer);
    toastText.textContent = text;
    undoIds = ids && ids.length ? ids : null;
    toastUndo.hidden = !undoIds;
    toast.hidden = false;
    undoTimer = setTimeout(() => {
      toast.hidden = true;
      undoIds = null;
    }, UNDO_SECONDS * 1000);
  }

  function signInAgainIfNeeded(result) {
    // The session expired: go to the sign-in page and come back here afterwards.
    if (result.status === 401) {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      return true;
    }
    return false;
  }

  function problemText(result) {
    return (result.data && (result.data.detail || result.data.title)) || "Request failed (" + result.status + ")";
  }

  function bumpCount(status, delta) {
    const badge = document.querySelector('[data-count="' + status + '"]');
    if (badge) badge.textContent = String(Math.max(0, Number(badge.textContent) + delta));
  }

  function updateSelected() {
    const boxes = list.querySelectorAll(".select-box");
    let n = 0;
    boxes.forEach((box) => {
      box.closest(".item").classList.toggle("selected", box.checked);
      if (box.checked) n += 1;
    });
    if (selectedCount) selectedCount.textContent = String(n);
  }

  async function claim(item) {
    const id = item.dataset.id;
    if (claimedId === id) return;
    const previous = claimedId;
    claimedId = id;
    if (previous && list.querySelector('.item[data-id="' + previous + '"]')) {
      api("DELETE", "/comments/" + encodeURIComponent(previous) + "/claim");
    }
    const result = await api("POST", "/comments/" + encodeURIComponent(id) + "/claim");
    if (result.status === 409 && item.isConnected) {
      // Another moderator holds it: show why, then drop it from this page.
      item.querySelector(".claim-note").hidden = false;
      if (claimedId === id) claimedId = null;
      setTimeout(() => removeItems([item]), 1500);
    }
  }

  function focusItem(item) {
    if (!item) return;
    if (current) current.classList.remove("focused");
    current = item;
    item.classList.add("focused");
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
    claim(item);
  }

  function move(step) {
    const items = live();
    if (!items.length) return;
    const index = items.indexOf(current);
    const next = index < 0 ? 0 : Math.min(items.length - 1, Math.max(0, index + step));
    focusItem(items[next]);
  }

  function neighbour(item) {
    const items = live();
    const index = items.indexOf(item);
    return items[index + 1] || items[index - 1] || null;
  }

  function removeItems(items) {
    for (const item of items) {
      if (item === current) current = null;
      if (claimedId === item.dataset.id) claimedId = null;
      item.remove();
    }
    updateSelected();
    if (!list.querySelector(".item")) {
      // Page cleared: fetch the next one (page 1 again, as decided items left the tab).
      const url = new URL(window.location.href);
      url.searchParams.delete("page");
      window.location.assign(url.toString());
    } else if (!current) {
      focusItem(live()[0]);
    }
  }

  async function decide(item, status) {
    if (!item || item.classList.contains("busy")) return;
    const form = item.querySelector("form.decide");
    const body = { status };
    if (status === "rejected") body.reason_code = form.elements.reason_code.value;
    const note = form.elements.note.value.trim();
    if (note) body.note = note;
    item.classList.add("busy");
    if (item === current) focusItem(neighbour(item));
    const result = await api("POST", "/comments/" + encodeURIComponent(item.dataset.id) + "/decision", body);
    if (!result.ok) {
      item.classList.remove("busy");
      if (signInAgainIfNeeded(result)) return;
      say(problemText(result));
      if (result.status === 409 || result.status === 404) removeItems([item]);
      return;
    }
    bumpCount(tabStatus, -1);
    bumpCount(status, 1);
    say((status === "approved" ? "Approved" : "Rejected") + " 1 comment.", result.data.decisions.map((d) => d.id));
    removeItems([item]);
  }

  async function bulk(status, scope) {
    const items = Array.from(list.querySelectorAll(".item")).filter(
      (item) => !item.classList.contains("busy") && (scope === "page" || item.querySelector(".select-box").checked),
    );
    if (!items.length) {
      say("Select comments first (x).");
      return;
    }
    const body = { status, ids: items.map((item) => item.dataset.id) };
    if (status === "rejected") body.reason_code = bulkForm.elements.reason_code.value;
    const note = bulkForm.elements.note.value.trim();
    if (note) body.note = note;
    items.forEach((item) => item.classList.add("busy"));
    const result = await api("POST", "/decisions", body);
    items.forEach((item) => item.classList.remove("busy"));
    if (!result.ok) {
      if (signInAgainIfNeeded(result)) return;
      say(problemText(result));
      return;
    }
    const decided = new Set(result.data.decisions.map((d) => d.comment_id));
    bumpCount(tabStatus, -decided.size);
    bumpCount(status, decided.size);
    const skipped = Object.keys(result.data.skipped || {}).length;
    say(
      (status === "approved" ? "Approved " : "Rejected ") + decided.size + " comment" + (decided.size === 1 ? "" : "s") +
        (skipped ? " (" + skipped + " skipped)" : "") + ".",
      result.data.decisions.map((d) => d.id),
    );
    removeItems(items.filter((item) => decided.has(item.dataset.id)));
  }

  async function undo() {
    if (!undoIds) return;
    const ids = undoIds;
    undoIds = null;
    const result = await api("POST", "/undo", { decision_ids: ids });
    if (!result.ok) {
      if (signInAgainIfNeeded(result)) return;
      say(problemText(result));
      return;
    }
    // The undone comments are back in their tab: show the page as it now is.
    window.location.reload();
  }

  function toggleSelect(item) {
    if (!item) return;
    const box = item.querySelector(".select-box");
    box.checked = !box.checked;
    updateSelected();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea, [contenteditable]")) return;
    if (help.open) return; // the dialog closes on Escape by itself
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": decide(current, "approved"); break;
      case "r": decide(current, "rejected"); break;
      case "x": toggleSelect(current); break;
      case "u": undo(); break;
      case "?": help.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

  list.addEventListener("submit", (event) => {
    const form = event.target.closest("form.decide");
    if (!form) return;
    event.preventDefault();
    const status = event.submitter ? event.submitter.value : "approved";
    decide(form.closest(".item"), status);
  });

  list.addEventListener("click", (event) => {
    const item = event.target.closest(".item");
    if (item && item !== current && !event.target.closest("a")) focusItem(item);
  });

  list.addEventListener("change", (event) => {
    if (event.target.classList.contains("select-box")) updateSelected();
  });

  if (bulkForm) {
    bulkForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const button = event.submitter;
      if (!button) return;
      bulk(button.value, button.dataset.bulk);
    });
  }

  toastUndo.addEventListener("click", undo);
  document.querySelector('[data-action="help"]').addEventListener("click", () => help.showModal());

  window.addEventListener("pagehide", () => {
    // Give the claim back when leaving, so others need not wait for it to expire.
    if (claimedId) {
      fetch("/v1/review/comments/" + encodeURIComponent(claimedId) + "/claim", {
        method: "DELETE",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf },
        keepalive: true,
      });
    }
  });

  updateSelected();
  focusItem(live()[0]);
})();
