// Adding articles (the chat page's upload form) and removing one (the article viewer's button).
// Both send the file work to the JSON API, then follow background indexing until the change is
// searchable; no answer logic lives here.
(function () {
  "use strict";
  const status = document.getElementById("upload-status");
  if (!status || !window.fetch) return;

  function say(text, kind) {
    status.textContent = text;
    status.className = "upload-status" + (kind ? " " + kind : "");
  }

  async function problem(response) {
    try {
      return (await response.json()).detail || response.statusText;
    } catch (err) {
      return "HTTP " + response.status;
    }
  }

  // Poll the indexing status until build `ticket` is done; say how far the running build is.
  async function follow(ticket, what) {
    for (;;) {
      const response = await fetch("/api/documents", { headers: { Accept: "application/json" } });
      if (response.ok) {
        const indexing = (await response.json()).indexing;
        if (indexing.completed >= ticket) {
          if (indexing.error) {
            say("Indexing failed: " + indexing.error, "failed");
            return false;
          }
          say(what, "done");
          return true;
        }
        let text = "Indexing…";
        if (indexing.total) {
          text += " " + indexing.done + "/" + indexing.total + " texts";
          if (indexing.eta_seconds !== null) text += ", about " + Math.ceil(indexing.eta_seconds) + " s left";
        }
        say(text, "busy");
      }
      await new Promise(function (resolve) { setTimeout(resolve, 400); });
    }
  }

  async function upload(files) {
    if (!files.length) return;
    const body = new FormData();
    for (const file of files) body.append("files", file, file.name);
    say("Uploading " + files.length + " file(s)…", "busy");
    let response;
    try {
      response = await fetch("/api/documents", { method: "POST", body: body });
    } catch (err) {
      say("The server could not be reached.", "failed");
      return;
    }
    if (!response.ok) {
      say("Not added: " + (await problem(response)), "failed");
      return;
    }
    const reply = await response.json();
    const titles = reply.saved.map(function (s) { return "“" + s.title + "”"; }).join(", ");
    if (await follow(reply.ticket, "Added " + titles + ". You can ask about it now.")) await refreshCounts();
  }

  // The page's count of articles, its examples and its empty-folder note, as the server now renders them.
  async function refreshCounts() {
    try {
      const response = await fetch("/", { headers: { Accept: "text/html" } });
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const selector of ["#loaded", ".examples", "#empty"]) {
        const now = document.querySelector(selector);
        const then = fresh.querySelector(selector);
        if (now && then) now.replaceWith(document.importNode(then, true));
        else if (now) now.remove();
        else if (then) document.querySelector("main").prepend(document.importNode(then, true));
      }
    } catch (err) { /* the counts stay as they were until the page is reloaded */ }
  }

  const form = document.getElementById("upload");
  if (form) {
    const input = form.querySelector("input[type=file]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      upload(Array.from(input.files)).then(function () { input.value = ""; });
    });
    input.addEventListener("change", function () { upload(Array.from(input.files)).then(function () { input.value = ""; }); });
    const drop = form.querySelector(".drop");
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (event) { event.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (event) {
      event.preventDefault();
      upload(Array.from(event.dataTransfer.files));
    });
  }

  // Removal asks first, then says what happened (the page stays, with its link back to the chat).
  const remove = document.getElementById("remove");
  const confirmRemove = document.getElementById("confirm-remove");
  if (remove && confirmRemove) {
    const yes = document.getElementById("remove-yes");
    const no = document.getElementById("remove-no");
    remove.addEventListener("click", function () {
      remove.hidden = true;
      confirmRemove.hidden = false;
      no.focus();
    });
    no.addEventListener("click", function () {
      confirmRemove.hidden = true;
      remove.hidden = false;
      say("Kept.", "done");
    });
    yes.addEventListener("click", async function () {
      yes.disabled = no.disabled = true;
      const id = remove.dataset.docId;
      const path = id.split("/").map(encodeURIComponent).join("/");
      const response = await fetch("/api/documents/" + path, { method: "DELETE" });
      if (!response.ok) {
        say("Not removed: " + (await problem(response)), "failed");
        yes.disabled = no.disabled = false;
        return;
      }
      confirmRemove.hidden = true;
      const reply = await response.json();
      const removed = await follow(reply.ticket, "Removed " + remove.dataset.file + ": it is no longer cited. It stays in the folder's trash for 7 days.");
      const undo = document.getElementById("undo");
      if (!removed || !undo) return;
      undo.hidden = false;
      undo.onclick = async function () {
        undo.disabled = true;
        const back = await fetch("/api/documents/restore/" + encodeURIComponent(reply.undo), { method: "POST" });
        if (!back.ok) {
          say("Not put back: " + (await problem(back)), "failed");
          undo.disabled = false;
          return;
        }
        undo.hidden = true;
        if (await follow((await back.json()).ticket, "Put " + remove.dataset.file + " back: it is cited again.")) {
          remove.hidden = false;
          yes.disabled = no.disabled = false;
        }
      };
    });
  }
})();
