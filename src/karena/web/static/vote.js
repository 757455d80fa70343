// The vote page: Rank mode (ranks per output, ties allowed), Best mode, Tie and All bad.
// No model identity exists on this page before the vote; the reveal comes from the vote response.
(function () {
  "use strict";
  const battle = document.getElementById("battle");
  if (!battle) return;
  const token = battle.dataset.token;
  const k = parseInt(battle.dataset.k, 10);
  const outputs = Array.from(document.querySelectorAll("#outputs .output"));
  const submitRank = document.getElementById("submit-rank");
  const statusLine = document.getElementById("status");
  const nextBattle = document.getElementById("next-battle");
  const ranks = new Array(k).fill(null);
  let mode = "rank";
  let selected = 0;
  let done = false;
  let sending = false;

  function setStatus(text, isError) {
    statusLine.textContent = text;
    statusLine.classList.toggle("error", Boolean(isError));
  }

  function select(position) {
    selected = position;
    outputs.forEach((el, i) => el.classList.toggle("selected", i === position));
  }

  function setRank(position, rank) {
    if (done) return;
    ranks[position] = ranks[position] === rank ? null : rank;
    const el = outputs[position];
    el.querySelector(".rank-badge").textContent = ranks[position] ? "#" + ranks[position] : "";
    el.querySelectorAll(".rank-button").forEach((b) => {
      b.setAttribute("aria-pressed", String(parseInt(b.dataset.rank, 10) === ranks[position]));
    });
    submitRank.disabled = ranks.some((r) => r === null);
    const missing = ranks.filter((r) => r === null).length;
    setStatus(missing ? missing + " output(s) still unranked" : "Ready: submit the ranking (Enter)");
  }

  function setMode(next) {
    if (done) return;
    mode = next;
    document.querySelectorAll(".mode").forEach((b) => {
      b.setAttribute("aria-selected", String(b.dataset.mode === mode));
    });
    document.getElementById("hint-rank").hidden = mode !== "rank";
    document.getElementById("hint-best").hidden = mode !== "best";
    outputs.forEach((el) => {
      el.querySelector(".rank-buttons").hidden = mode !== "rank";
      el.querySelector(".best-button").hidden = mode !== "best";
    });
    submitRank.hidden = mode !== "rank";
    setStatus("");
  }

  function formatDelta(x) {
    const s = x.toFixed(2);
    return x >= 0 ? "+" + s : s;
  }

  // What the vote said about each output: a Tie or All bad vote ranks every output 1 (the
  // rating sees a tie), which read as "rank 1" on every card; say what the voter chose instead.
  function outcomeLabel(mode, rank) {
    if (mode === "all_bad") return "all bad";
    if (mode === "tie") return "tie";
    if (mode === "best") return rank === 1 ? "best" : "not best";
    return "rank " + rank;
  }

  function reveal(result) {
    done = true;
    battle.classList.add("voted");
    result.contestants.forEach((c) => {
      const el = outputs[c.position];
      const box = el.querySelector(".reveal");
      box.replaceChildren();
      const name = document.createElement("a");
      name.className = "model-name";
      name.href = "/models/" + encodeURIComponent(c.model_name) + "?arena=" + encodeURIComponent(result.arena);
      name.textContent = c.model_name;
      const rank = document.createElement("span");
      rank.className = "revealed-rank";
      rank.textContent = outcomeLabel(result.mode, c.rank);
      // The colour follows μ, the skill estimate this vote moved: the score μ − 3σ can rise for
      // a model that lost (its σ shrinks), and a green "+" beside "μ −4.40" read as a win.
      const delta = document.createElement("span");
      delta.className = "delta " + (c.delta_mu > 0 ? "up" : c.delta_mu < 0 ? "down" : "flat");
      const mu = document.createElement("span");
      mu.className = "delta-mu";
      mu.textContent = "μ " + formatDelta(c.delta_mu);
      const score = document.createElement("span");
      score.className = "delta-score";
      score.title = "score μ − 3σ: it also rises as σ, the uncertainty, shrinks";
      score.textContent = "score " + formatDelta(c.delta_score);
      delta.append(mu, " · ", score);
      box.append(name, rank, delta);
      box.hidden = false;
      el.querySelector(".rank-buttons").hidden = true;
      el.querySelector(".best-button").hidden = true;
    });
    document.querySelectorAll(".actions button, .mode").forEach((b) => (b.disabled = true));
    nextBattle.hidden = false;
    nextBattle.focus();
    setStatus(result.counted ? "Vote recorded. Thank you!" : "Vote recorded (not counted towards ratings).");
  }

  async function send(body) {
    if (done || sending) return;
    sending = true;
    setStatus("Sending…");
    try {
      const response = await fetch("/api/battles/" + encodeURIComponent(token) + "/vote", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      const data = await response.json().catch(() => ({ error: "unreadable reply" }));
      if (!response.ok) {
        setStatus(data.error || "The vote was not accepted (" + response.status + ")", true);
        if (response.status === 409 || response.status === 410 || response.status === 404) {
          nextBattle.hidden = false;
        }
        return;
      }
      reveal(data);
    } catch (err) {
      setStatus("Network error: the vote was not sent. Try again.", true);
    } finally {
      sending = false;
    }
  }

  function submitRanking() {
    if (ranks.some((r) => r === null)) {
      setStatus("Rank every output first.", true);
      return;
    }
    send({ mode: "rank", ranks: ranks.slice() });
  }

  outputs.forEach((el, position) => {
    el.addEventListener("click", (event) => {
      select(position);
      if (mode === "best" && !event.target.closest("a")) send({ mode: "best", winner: position });
    });
    el.addEventListener("focus", () => select(position));
    el.querySelectorAll(".rank-button").forEach((b) => {
      b.addEventListener("click", (event) => {
        event.stopPropagation();
        select(position);
        setRank(position, parseInt(b.dataset.rank, 10));
      });
    });
    el.querySelector(".best-button").addEventListener("click", (event) => {
      event.stopPropagation();
      send({ mode: "best", winner: position });
    });
  });
  document.querySelectorAll(".mode").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
  submitRank.addEventListener("click", submitRanking);
  document.getElementById("vote-tie").addEventListener("click", () => send({ mode: "tie" }));
  document.getElementById("vote-all-bad").addEventListener("click", () => send({ mode: "all_bad" }));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
    const key = event.key.toLowerCase();
    if (done) {
      if (key === "n" || key === "enter") window.location.href = nextBattle.href;
      return;
    }
    const digit = parseInt(key, 10);
    const letter = "abcdefgh".indexOf(key);
    if (mode === "rank") {
      if (digit >= 1 && digit <= k) {
        setRank(selected, digit);
        if (ranks[selected] !== null) select((selected + 1) % k);
        event.preventDefault();
      } else if (letter >= 0 && letter < k) {
        select(letter);
        outputs[letter].focus();
      } else if (key === "arrowright") {
        select((selected + 1) % k);
      } else if (key === "arrowleft") {
        select((selected + k - 1) % k);
      } else if (key === "enter" && !submitRank.disabled) {
        submitRanking();
        event.preventDefault();
      }
    } else if (mode === "best") {
      const position = letter >= 0 && letter < k ? letter : digit >= 1 && digit <= k ? digit - 1 : -1;
      if (position >= 0) send({ mode: "best", winner: position });
    }
    if (key === "m") setMode(mode === "rank" ? "best" : "rank");
  });

  setMode("rank");
  select(0);
})();
