// The queue page's keyboard, claims, bulk actions and undo. The page works without it: every
// action is also a plain form. Talks to /v1/review with the session cookie and the CSRF header.
(() => {
  "use strict";

  const UNDO_SECONDS = 10;
  const PRESENCE_EVERY_SECONDS = 30;
  // Kept per browser tab, so a reload (a cleared page, the next page) keeps undo and focus.
  const UNDO_KEY = "moderation.undo";
  const FOCUS_KEY = "moderation.focus";
  const DENSITY_KEY = "moderation.density";
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
  const confirmDialog = document.getElementById("confirm");
  const densityButton = document.querySelector('[data-action="density"]');
  const pageNumber = Number(list.dataset.page || 1);
  const pageCount = Number(list.dataset.pages || 1);
  const listedAtLoad = list.querySelectorAll(".item").length;

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

  function remember(key, value) {
    try {
      if (value === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, JSON.stringify(value));
    } catch (_) {
      // Storage refused (private mode, quota): the page still works, only reloads forget.
    }
  }

  function recall(key) {
    try {
      return JSON.parse(sessionStorage.getItem(key) || "null");
    } catch (_) {
      return null;
    }
  }

  function say(text, ids, until) {
    clearTimeout(undoTimer);
    toastText.textContent = text;
    undoIds = ids && ids.length ? ids : null;
    toastUndo.hidden = !undoIds;
    toast.hidden = false;
    const expires = until || Date.now() + UNDO_SECONDS * 1000;
    if (undoIds) remember(UNDO_KEY, { text, ids: undoIds, until: expires });
    undoTimer = setTimeout(() => {
      toast.hidden = true;
      undoIds = null;
      remember(UNDO_KEY, null);
    }, Math.max(0, expires - Date.now()));
  }

  function restoreUndo() {
    // The action before a reload can still be taken back for what is left of its window: the
    // server says so (it keeps each moderator's last action), else this tab remembers it.
    const until = Date.parse(toast.dataset.undoUntil || "");
    if (toast.dataset.undoIds && until > Date.now()) {
      const ids = toast.dataset.undoIds.split(",").map(Number);
      const saved = recall(UNDO_KEY);
      const same = saved && Array.isArray(saved.ids) && saved.ids.join(",") === ids.join(",");
      const text = same ? saved.text : "Your last action can still be undone.";
      say(text, ids, until);
      return;
    }
    const saved = recall(UNDO_KEY);
    if (saved && saved.until > Date.now() && Array.isArray(saved.ids)) say(saved.text, saved.ids, saved.until);
    else remember(UNDO_KEY, null);
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

  function goToPage(page, focus) {
    remember(FOCUS_KEY, focus);
    const url = new URL(window.location.href);
    if (page > 1) url.searchParams.set("page", String(page));
    else url.searchParams.delete("page");
    window.location.assign(url.toString());
  }

  function moveOn() {
    // Past the last comment: the next comments are on the next page, or, when some on this
    // page were decided (and the rest moved up), on this same page after the ones left here.
    const left = live().length;
    if (left < listedAtLoad) goToPage(pageNumber, { index: left });
    else if (pageNumber < pageCount) goToPage(pageNumber + 1, { index: 0 });
    else say("That was the last comment in this tab.");
  }

  function move(step) {
    const items = live();
    if (!items.length) return;
    const index = items.indexOf(current);
    if (step > 0 && index === items.length - 1) return moveOn();
    if (step < 0 && index === 0 && pageNumber > 1) return goToPage(pageNumber - 1, { index: -1 });
    const next = index < 0 ? 0 : Math.min(items.length - 1, Math.max(0, index + step));
    focusItem(items[next]);
  }

  function startingItem() {
    const items = live();
    const wanted = recall(FOCUS_KEY);
    remember(FOCUS_KEY, null);
    if (!wanted || typeof wanted.index !== "number") return items[0];
    if (wanted.index < 0) return items[items.length - 1];
    return items[Math.min(wanted.index, items.length - 1)];
  }

  function setDensity(value) {
    list.dataset.density = value;
    if (densityButton) {
      densityButton.hidden = false;
      densityButton.setAttribute("aria-pressed", String(value === "compact"));
      densityButton.querySelector("[data-density-label]").textContent = value === "compact" ? "Comfortable" : "Compact";
    }
  }

  function toggleDensity() {
    const next = list.dataset.density === "compact" ? "comfortable" : "compact";
    setDensity(next);
    try {
      localStorage.setItem(DENSITY_KEY, next);
    } catch (_) {
      // Not stored: the choice lasts until the page reloads.
    }
    if (current) current.scrollIntoView({ block: "nearest" });
  }

  function storedDensity() {
    try {
      return localStorage.getItem(DENSITY_KEY);
    } catch (_) {
      return null;
    }
  }

  function ask(question, yes, status) {
    // A whole-page action asks first; resolves true only on the explicit "yes" button.
    return new Promise((resolve) => {
      if (!confirmDialog) return resolve(true);
      confirmDialog.querySelector("[data-question]").textContent = question;
      const button = confirmDialog.querySelector('button[value="yes"]');
      button.textContent = yes;
      button.className = status === "approved" ? "approve" : "reject";
      confirmDialog.returnValue = "";
      confirmDialog.addEventListener("close", () => resolve(confirmDialog.returnValue === "yes"), { once: true });
      confirmDialog.showModal();
      button.focus();
    });
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
    if (status === tabStatus && status === "approved") {
      say("Already approved.");
      return;
    }
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
    if (scope === "page") {
      const verb = status === "approved" ? "Approve" : "Reject";
      const what = items.length + " comment" + (items.length === 1 ? "" : "s");
      if (!(await ask(verb + " all " + what + " on this page?", verb + " " + what, status))) return;
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
    // Without ids of its own (another tab, a lost toast) the server takes back this
    // moderator's last action, if its window is still open.
    const ids = undoIds;
    undoIds = null;
    remember(UNDO_KEY, null);
    const result = await api("POST", "/undo", ids ? { decision_ids: ids } : {});
    if (!result.ok) {
      if (signInAgainIfNeeded(result)) return;
      say(problemText(result));
      return;
    }
    // The undone comments are back in their tab: show the page as it now is.
    window.location.reload();
  }

  function rejectWithReasonKey(key) {
    // 1..9 reject the focused comment with the n-th reason of its list (shown in "?").
    if (!current) return;
    const select = current.querySelector("form.decide select[name=reason_code]");
    const option = select && select.options[Number(key) - 1];
    if (!option) return;
    select.value = option.value;
    decide(current, "rejected");
  }

  function writeNote(item) {
    const input = item && item.querySelector(".note-form input[name=body]");
    if (input) input.focus();
  }

  async function leaveNote(form) {
    const item = form.closest(".item");
    const input = form.elements.body;
    const text = input.value.trim();
    if (!text) return;
    const result = await api("POST", "/comments/" + encodeURIComponent(item.dataset.id) + "/notes", { body: text });
    if (!result.ok) {
      if (signInAgainIfNeeded(result)) return;
      say(problemText(result));
      return;
    }
    const notes = item.querySelector(".notes");
    const line = document.createElement("li");
    const who = document.createElement("span");
    who.className = "muted";
    who.textContent = result.data.author + ":";
    line.append(who, " " + result.data.body);
    notes.append(line);
    notes.hidden = false;
    input.value = "";
    item.focus({ preventScroll: true });
    say("Note left for the next moderator.");
  }

  async function refreshPresence() {
    const box = document.getElementById("presence");
    const result = await api("GET", "/presence");
    if (!box || !result.ok) return;
    const others = result.data.moderators.filter((p) => !p.you);
    box.replaceChildren();
    box.hidden = !others.length;
    if (!others.length) return;
    box.append("Also in the queue: ");
    others.forEach((p, n) => {
      const person = document.createElement("span");
      person.className = "person";
      person.textContent = p.email + (p.holding.length ? " (holds " + p.holding.length + ")" : "");
      box.append(person);
      if (n < others.length - 1) box.append(", ");
    });
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
    if (help.open || (confirmDialog && confirmDialog.open)) return; // dialogs close on Escape
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": decide(current, "approved"); break;
      case "r": decide(current, "rejected"); break;
      case "x": toggleSelect(current); break;
      case "u": undo(); break;
      case "d": toggleDensity(); break;
      case "n": writeNote(current); break;
      case "?": help.showModal(); break;
      default:
        if (/^[1-9]$/.test(event.key)) rejectWithReasonKey(event.key);
        else return;
    }
    event.preventDefault();
  });

  list.addEventListener("submit", (event) => {
    const noteForm = event.target.closest("form.note-form");
    if (noteForm) {
      event.preventDefault();
      leaveNote(noteForm);
      return;
    }
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
  if (densityButton) densityButton.addEventListener("click", toggleDensity);

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

  setDensity(storedDensity() || list.dataset.densityDefault || "comfortable");
  updateSelected();
  restoreUndo();
  focusItem(startingItem());
  setInterval(refreshPresence, PRESENCE_EVERY_SECONDS * 1000);
})();
