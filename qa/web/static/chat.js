// Progressive enhancement of the chat form: ask without reloading the page.
// Answers arrive as server-rendered, escaped HTML fragments from /turn; this file holds no logic
// about answers, only about sending questions and placing the replies.
(function () {
  "use strict";
  const form = document.getElementById("ask");
  const thread = document.getElementById("thread");
  if (!form || !thread || !window.fetch) return;
  const input = form.querySelector("input[name=q]");
  const button = form.querySelector("button");

  function pendingTurn(question) {
    const turn = document.createElement("article");
    turn.className = "turn";
    const asked = document.createElement("p");
    asked.className = "bubble question";
    asked.textContent = question;
    const waiting = document.createElement("p");
    waiting.className = "bubble answer pending";
    waiting.textContent = "Searching the articles";
    turn.append(asked, waiting);
    return turn;
  }

  async function ask(question) {
    const placeholder = pendingTurn(question);
    thread.append(placeholder);
    placeholder.scrollIntoView({ block: "end" });
    button.disabled = true;
    try {
      const response = await fetch("/turn?" + new URLSearchParams({ q: question }), {
        headers: { Accept: "text/html" },
      });
      const html = await response.text();
      const parsed = new DOMParser().parseFromString(html, "text/html");
      const turn = parsed.querySelector("article.turn");
      if (response.ok && turn) {
        placeholder.replaceWith(document.adoptNode(turn));
      } else {
        const problem = parsed.querySelector(".problem");
        placeholder.lastChild.className = "bubble answer not-found";
        placeholder.lastChild.textContent = problem ? problem.textContent : "Something went wrong (" + response.status + ").";
      }
    } catch (err) {
      placeholder.lastChild.className = "bubble answer not-found";
      placeholder.lastChild.textContent = "The server could not be reached.";
    } finally {
      button.disabled = false;
      input.focus();
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    input.value = "";
    ask(question);
  });

  document.querySelectorAll(".example[data-question]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      ask(link.dataset.question);
    });
  });
})();
