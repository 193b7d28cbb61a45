// Progressive enhancement of the chat form: ask without reloading the page, in a conversation.
// Answers arrive as server-rendered, escaped HTML fragments from POST /turn/stream (sources, then the
// answer text as it streams in, then the finished turn); this file holds no logic
// about answers, only about sending questions (with the turns before them), placing the replies,
// and keeping the thread in the tab's session storage so Back and reload do not lose it.
(function () {
  "use strict";
  const form = document.getElementById("ask");
  const thread = document.getElementById("thread");
  if (!form || !thread || !window.fetch) return;
  const input = form.querySelector("input[name=q]");
  const button = form.querySelector("button");
  const clear = document.getElementById("clear");
  const KEY = "vnqa.thread";
  const MAX_TURNS = 20;

  function save() {
    const turns = Array.from(thread.querySelectorAll("article.turn:not(.pending-turn):not(.streaming-turn)"));
    try {
      sessionStorage.setItem(KEY, JSON.stringify(turns.slice(-MAX_TURNS).map(function (t) { return t.outerHTML; })));
    } catch (err) { /* storage full or off: the thread simply is not kept */ }
    if (clear) clear.hidden = turns.length === 0;
  }

  function restore() {
    if (thread.querySelector("article.turn")) { save(); return; }  // a server-rendered ?q= turn
    let stored = [];
    try { stored = JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch (err) { stored = []; }
    const parser = new DOMParser();
    stored.forEach(function (html) {
      const turn = parser.parseFromString(html, "text/html").querySelector("article.turn");
      if (turn) thread.append(document.adoptNode(turn));
    });
    if (clear) clear.hidden = stored.length === 0;
    const last = thread.querySelector("article.turn:last-of-type");
    if (last) reveal(last);
  }

  // The conversation as /turn reads it: each earlier turn's question, answer and cited articles.
  function history() {
    return Array.from(thread.querySelectorAll("article.turn[data-question]")).slice(-MAX_TURNS).map(function (t) {
      return {
        question: t.dataset.question,
        answer: t.dataset.answer || "",
        doc_ids: (t.dataset.docIds || "").split(" ").filter(Boolean),
        short_answer: t.dataset.short || null,
      };
    });
  }

  // Scroll the newest turn to the top: its question and the start of its answer are in view, above
  // the fixed input bar (the page's bottom padding keeps the last turn clear of the bar).
  function reveal(turn) {
    turn.scrollIntoView({ block: "start", behavior: "instant" });
  }

  function pendingTurn(question) {
    const turn = document.createElement("article");
    turn.className = "turn pending-turn";
    const asked = document.createElement("p");
    asked.className = "bubble question";
    asked.textContent = question;
    const waiting = document.createElement("p");
    waiting.className = "bubble answer pending";
    waiting.textContent = "Searching the articles";
    turn.append(asked, waiting);
    return turn;
  }

  // Read Server-Sent Events from a fetch response, calling on(event, data) for each.
  async function readEvents(response, on) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      const blocks = buffer.split(/\r?\n\r?\n/);
      buffer = done ? "" : blocks.pop();
      for (const block of blocks) {
        let event = "message";
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) on(event, JSON.parse(data.join("\n")));
      }
      if (done) return;
    }
  }

  function fragment(html) {
    const turn = new DOMParser().parseFromString(html, "text/html").querySelector("article.turn");
    return turn ? document.adoptNode(turn) : null;
  }

  function failed(placeholder, text) {
    placeholder.lastChild.className = "bubble answer not-found";
    placeholder.lastChild.textContent = text;
  }

  // Sources first, then the answer as it streams in, then the finished turn in its place.
  async function ask(question) {
    const earlier = history();
    const placeholder = pendingTurn(question);
    thread.append(placeholder);
    reveal(placeholder);
    button.disabled = true;
    let current = placeholder;
    try {
      const response = await fetch("/turn/stream", {
        method: "POST",
        headers: { Accept: "text/event-stream", "Content-Type": "application/json" },
        body: JSON.stringify({ question: question, history: earlier }),
      });
      if (!response.ok) {
        let detail = "Something went wrong (" + response.status + ").";
        try { detail = (await response.json()).detail || detail; } catch (err) { /* not JSON */ }
        failed(placeholder, detail);
        return;
      }
      await readEvents(response, function (event, data) {
        if (event === "sources" || event === "done") {
          const node = fragment(data);
          if (!node) return;
          current.replaceWith(node);
          current = node;
          if (event === "sources") reveal(node);
          else save();
        } else if (event === "delta") {
          const stream = current.querySelector(".stream");
          if (stream) stream.append(document.createTextNode(data));
        }
      });
    } catch (err) {
      if (current === placeholder) failed(placeholder, "The server could not be reached.");
    } finally {
      button.disabled = false;
      input.focus({ preventScroll: true });
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    input.value = "";
    ask(question);
  });

  // delegated: the examples are rendered again when the articles change (documents.js)
  document.addEventListener("click", function (event) {
    const link = event.target.closest(".example[data-question]");
    if (!link) return;
    event.preventDefault();
    ask(link.dataset.question);
  });

  if (clear) {
    clear.addEventListener("click", function () {
      thread.replaceChildren();
      try { sessionStorage.removeItem(KEY); } catch (err) { /* nothing kept */ }
      clear.hidden = true;
      input.focus();
    });
  }

  restore();
})();
