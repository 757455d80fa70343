// The "generating…" page of a typed prompt's battle: poll its status, then open the battle
// (the same URL now shows it) or show why it failed and the new battle offered instead.
(function () {
  "use strict";
  const box = document.getElementById("generating");
  if (!box) return;
  const token = box.dataset.token;
  const done = document.getElementById("generating-done");
  const bar = document.getElementById("generating-progress");
  const message = document.getElementById("generating-message");
  let delay = 500;

  function failed(status) {
    box.dataset.state = "failed";
    document.querySelector("h1").textContent = "This battle could not be generated";
    message.textContent = status.message;
    message.setAttribute("role", "alert");
    if (bar) bar.remove();
    const link = document.createElement("a");
    link.id = "new-battle";
    link.className = "button primary";
    link.href = status.next_token ? "/battle/" + status.next_token : "/?arena=" + encodeURIComponent(status.arena);
    link.textContent = status.next_token ? "Vote on a new battle" : "Try again";
    const p = document.createElement("p");
    p.appendChild(link);
    box.appendChild(p);
  }

  function poll() {
    fetch("/api/battles/" + encodeURIComponent(token) + "/status", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then((status) => {
        if (status.state === "ready") {
          window.location.replace("/battle/" + token);
          return;
        }
        if (status.state === "failed") {
          failed(status);
          return;
        }
        done.textContent = String(status.done);
        if (bar) bar.value = status.done;
        delay = Math.min(delay * 1.3, 3000);
        setTimeout(poll, delay);
      })
      .catch(() => {
        delay = Math.min(delay * 2, 10000);
        setTimeout(poll, delay);
      });
  }
  setTimeout(poll, delay);
})();
