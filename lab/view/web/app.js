// lab demo's page: draws the race from lab.demo.web's events (live), or plays a saved race (replay).
// One shape for both, lab.demo.record's: the saved race, and each event's lanes (only what is new in them).
// A request's bar draws its "phases" (the names it knows).
"use strict";

// The terminal's own thresholds, written in by lab.demo.web.page(): the page never disagrees with it.
const { LANE_GAP_S, NOT_ANSWERING_S, LAG_FULL_S, LAG_BAD_S, STALL_JOIN_S, THREADS_GAUGE } = /*CONSTANTS*/ {};
const MANTISSAS = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8];
const PHASES = ["queued", "in_handler", "answering", "in_server", "answered", "waiting"];

const params = new URLSearchParams(location.search);
let record = null; // the race: {scenario, requests, delay_ms, takeaway, lanes: [...]}
let live = { question: null, done: false, mode: "live" };
const player = { playing: false, speed: 1, pos: 0, base: 0, since: 0 };
let updates = 0;

const $ = (id) => document.getElementById(id);

function duration(s) {
  if (s === null || s === undefined) return "-";
  return s < 10 ? `${Math.round(s * 1000).toLocaleString("en-US")} ms` : `${s.toFixed(1)} s`;
}

function niceAxis(seconds) {
  seconds = Math.max(seconds, 0.01);
  const e = Math.floor(Math.log10(seconds));
  for (const p of [e, e + 1]) for (const m of MANTISSAS) if (m * 10 ** p >= seconds - 1e-9) return m * 10 ** p;
  return seconds;
}

function verdictText(v) {
  if (!v) return "";
  return v.kind === "waves" ? `waves of ~${v.wave_size}` : v.kind;
}

// --- the race at a moment ------------------------------------------------------------------

function laneStarts() {
  let at = 0;
  return record.lanes.map((lane) => {
    const start = at;
    at += (lane.wall_s || 0) + LANE_GAP_S;
    return start;
  });
}

function replayDuration() {
  return record.lanes.reduce((sum, l) => sum + (l.wall_s || 0), 0) + LANE_GAP_S * Math.max(0, record.lanes.length - 1);
}

function viewsAt(t) {
  const starts = laneStarts();
  return record.lanes.map((lane, i) => {
    const local = t - starts[i];
    if (local >= lane.wall_s) return { ...lane, state: "done", elapsed_s: lane.wall_s, stats_waiting_s: null };
    if (local < 0) return { ...lane, state: "waiting", elapsed_s: 0, samples: [], stats: [], verdict: null, wall_s: null };
    const out = lane.stats.filter((r) => r.at_s - r.waited_s <= local && local < r.at_s);
    return {
      ...lane,
      state: "running",
      elapsed_s: local,
      samples: lane.samples.filter((s) => s.end_s <= local),
      stats: lane.stats.filter((r) => r.at_s <= local),
      stats_waiting_s: out.length ? local - (out[0].at_s - out[0].waited_s) : null,
      verdict: null,
      wall_s: null,
    };
  });
}

function liveViews() {
  return record.lanes.map((lane) => ({ ...lane }));
}

// --- drawing ---------------------------------------------------------------------------

function laneSection(view) {
  let section = document.querySelector(`.lane[data-variant="${view.variant}"]`);
  if (section) return section;
  section = document.createElement("section");
  section.className = "lane";
  section.dataset.variant = view.variant;
  section.innerHTML =
    `<h2>${view.variant} <span class="caption"></span></h2><div class="status"></div>` +
    `<div class="bars"></div><div class="axis"><span>0</span><span class="mid"></span><span class="end"></span></div>` +
    `<div class="lag"><b>loop lag</b><span class="spark"></span><span class="lagtext"></span></div><div class="guess"></div>`;
  section.querySelector(".caption").textContent = `· ${view.caption}`;
  $("lanes").appendChild(section);
  return section;
}

function extent(view) {
  const ends = view.samples.map((s) => s.end_s);
  return Math.max(view.state === "running" ? view.elapsed_s : 0, ...ends, 0);
}

// When the server did not answer (lab.demo.model.LaneView.stalls): each stats request that waited, from its send
// to its answer, the one still out to now, joined across a poll's gap, ended where the burst did.
function stalls(view) {
  const spans = view.stats.filter((r) => r.waited_s >= NOT_ANSWERING_S).map((r) => [r.at_s - r.waited_s, r.at_s]);
  if (view.state === "running" && view.stats_waiting_s != null && view.stats_waiting_s >= NOT_ANSWERING_S) {
    spans.push([view.elapsed_s - view.stats_waiting_s, view.elapsed_s]);
  }
  const end = extent(view);
  const merged = [];
  const clamped = spans.map(([a, b]) => [Math.max(0, a), end > 0 ? Math.min(b, end) : b]).sort((x, y) => x[0] - y[0]);
  for (const [start, stop] of clamped) {
    if (stop <= start) continue;
    const last = merged[merged.length - 1];
    if (last && start - last[1] <= STALL_JOIN_S) last[1] = Math.max(last[1], stop);
    else merged.push([start, stop]);
  }
  return merged;
}

// Each band behind the bars (they keep their colours), its label above them; placeLabels puts the labels.
function stallBands(view, axis) {
  return stalls(view)
    .map(([start, end]) => {
      const left = (100 * start) / axis, width = Math.max((100 * (end - start)) / axis, 0.8);
      return `<div class="stall" data-start="${start}" data-end="${end}" style="left:${left}%;width:${width}%"></div>` +
        `<span class="stall-label">server not answering ${duration(end - start)}</span>`;
    })
    .join("");
}

// A label starts at its band and stays inside the lane: moved left when it would run past the right edge,
// wrapped when it is wider than the lane.
function placeLabels(box) {
  const width = box.clientWidth;
  for (const label of box.querySelectorAll(".stall-label")) {
    const band = label.previousElementSibling;
    label.style.maxWidth = `${width}px`;
    label.style.left = `${Math.max(0, Math.min(band.offsetLeft + 4, width - label.offsetWidth))}px`;
  }
}

function phaseSpans(phases, axis) {
  return phases
    .filter((p) => PHASES.includes(p.name) && p.end_s >= p.start_s)
    .map((p) => {
      const left = (100 * p.start_s) / axis;
      const width = Math.max((100 * (p.end_s - p.start_s)) / axis, p.name === "queued" ? 0 : 0.4);
      return `<span class="ph ${p.name}" style="left:${left}%;width:${width}%"></span>`;
    })
    .join("");
}

function drawBars(section, view, axis) {
  const box = section.querySelector(".bars");
  const arrived = [...view.samples].sort((a, b) => a.end_s - b.end_s || a.index - b.index);
  const rows = view.requests;
  const step = 100 / Math.max(rows, 1);
  const height = `calc(${step}% - ${rows > 30 ? 0 : 2}px)`;
  let html = "";
  arrived.forEach((s, i) => {
    const phase = (name) => s.phases.find((p) => p.name === name);
    const seen = phase("queued"), server = phase("in_handler") || phase("in_server");
    const data =
      `data-index="${s.index}" data-start="${s.start_s}" data-end="${s.end_s}"` +
      (seen ? ` data-server-start="${seen.end_s}"` : "") +
      (server ? ` data-server-end="${server.end_s}"` : "");
    const ok = s.status !== null && s.status >= 200 && s.status < 400;
    html += `<div class="bar done${ok ? "" : " failed"}" ${data} style="top:${i * step}%;height:${height}">${phaseSpans(s.phases, axis)}</div>`;
  });
  if (view.state === "running") {
    for (let i = arrived.length; i < rows; i++) {
      const width = (100 * view.elapsed_s) / axis;
      html += `<div class="bar pending" style="top:${i * step}%;height:${height}"><span class="ph pending" style="left:0;width:${width}%"></span></div>`;
    }
  }
  box.innerHTML = html + stallBands(view, axis);
  placeLabels(box);
}

function drawLag(section, view) {
  const spark = section.querySelector(".spark");
  const text = section.querySelector(".lagtext");
  if (view.lag_note) {
    spark.innerHTML = "";
    text.textContent = view.lag_note;
    text.className = "lagtext dim";
    return;
  }
  spark.innerHTML = view.stats
    .slice(-40)
    .map((r) => {
      // The longer of the heartbeat's lateness and the reading's own wait: after a stall the heartbeat is on
      // time again, and only the request that waited it out says how long it was (as in the terminal).
      const late = Math.max(r.lag_s, r.waited_s);
      const h = Math.max(2, Math.min(28, (28 * late) / LAG_FULL_S));
      return `<i class="${late >= LAG_BAD_S ? "bad" : ""}" style="height:${h}px"></i>`;
    })
    .join("");
  if (view.state === "running" && view.stats_waiting_s !== null && view.stats_waiting_s >= NOT_ANSWERING_S) {
    text.textContent = `server not answering for ${duration(view.stats_waiting_s)}`;
    text.className = "lagtext alarm";
  } else if (view.server) {
    // The burst is over: its own worst, the scoreboard's figure (a poll may have waited out the stall).
    const worst = Math.max(view.server.loop_lag_max_s, ...view.stats.map((r) => r.lag_max_s));
    const held = view.held_by; // worded by the lab, as in the terminal
    const site = worst >= LAG_BAD_S && held ? ` · held by ${held}` : "";
    text.textContent = `worst ${duration(worst)} over the burst${site}`;
    text.className = `lagtext ${worst >= LAG_BAD_S ? "alarm" : ""}`;
  } else if (view.stats.length) {
    const last = view.stats[view.stats.length - 1];
    const worst = Math.max(last.lag_s, ...view.stats.map((r) => r.lag_max_s)); // never "now" above the worst
    const site = worst >= LAG_BAD_S && last.blocking ? ` · held by ${last.blocking}` : "";
    text.textContent = `${duration(last.lag_s)} now (worst ${duration(worst)})${site}`;
    text.className = `lagtext ${worst >= LAG_BAD_S ? "alarm" : ""}`;
  } else {
    text.textContent = view.state === "running" ? "…" : "";
    text.className = "lagtext dim";
  }
}

function drawGuess(section, view) {
  const box = section.querySelector(".guess");
  if (view.guess_s === null || view.guess_s === undefined) {
    box.textContent = "";
    return;
  }
  let html = `<b>guess</b> ${duration(view.guess_s)} → `;
  if (view.state !== "done") html += "?";
  else {
    const ratio = view.wall_s / view.guess_s;
    html += `actual <b>${duration(view.wall_s)}</b> `;
    html += ratio >= 0.8 && ratio <= 1.25 ? `<span class="hit">spot on!</span>` : `(${ratio > 1 ? ratio.toFixed(1) + "× your guess" : (1 / ratio).toFixed(1) + "× quicker than your guess"})`;
  }
  box.innerHTML = html;
}

function drawStatus(section, view) {
  const status = section.querySelector(".status");
  section.dataset.state = view.state;
  section.dataset.answered = String(view.samples.length);
  section.dataset.elapsed = String(view.elapsed_s || 0);
  if (view.state === "done" && view.verdict) {
    section.dataset.kind = view.verdict.kind;
    status.innerHTML = `${duration(view.wall_s)} · <span class="${view.verdict.kind}">${verdictText(view.verdict)}</span>`;
  } else {
    delete section.dataset.kind;
    status.textContent =
      view.state === "running"
        ? `${view.samples.length}/${view.requests} answered · ${duration(view.elapsed_s)}`
        : view.state === "warming" ? "warming up…" : `${view.requests} requests, ready`;
  }
}

function drawScoreboard(views) {
  const done = views.filter((v) => v.state === "done" && v.verdict);
  $("scoreboard").hidden = done.length === 0;
  const broken = done.find((v) => v.variant === "broken");
  const guessed = views.some((v) => v.guess_s !== null && v.guess_s !== undefined); // as the terminal: only when asked
  $("scoreboard").querySelector("th.guess").hidden = !guessed;
  const threads = views.some((v) => threadsPeak(v) !== null); // only where the server counts them (pool)
  $("scoreboard").querySelector("th.threads").hidden = !threads;
  $("scoreboard").classList.toggle("with-threads", threads);
  $("scoreboard").querySelector("tbody").innerHTML = done
    .map((v) => {
      const speedup = broken && v.wall_s > 0 ? `${(broken.wall_s / v.wall_s).toFixed(1)}×` : "-";
      const server = v.server || {};
      const cells = [v.variant, v.caption, duration(v.wall_s), speedup, `<span class="${v.verdict.kind}">${verdictText(v.verdict)}</span>`,
        server.peak_in_handler || server.peak_in_flight || "-"];
      if (threads) cells.push(threadsPeak(v) ?? "-");
      cells.push(duration(server.loop_lag_max_s));
      if (guessed) cells.push(v.guess_s == null ? "-" : duration(v.guess_s));
      return `<tr data-variant="${v.variant}">${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
    })
    .join("");
  const allDone = views.length > 0 && done.length === views.length;
  $("why").hidden = !(allDone && record.takeaway);
  if (allDone && record.takeaway) $("why").innerHTML = `<b>Why:</b> ${withCode(escapeHtml(record.takeaway))}`;
}

function threadsPeak(view) {
  const gauge = ((view.server || {}).gauges || {})[THREADS_GAUGE];
  return gauge && gauge.peak ? gauge.peak : null;
}

// The lesson's `code` set as code, as the terminal does, instead of showing its backticks.
function withCode(html) {
  return html.replace(/`([^`]+)`/g, "<code>$1</code>");
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function render(views) {
  const axis = niceAxis(Math.max((2 * record.delay_ms) / 1000, ...views.map(extent)));
  for (const view of views) {
    const section = laneSection(view);
    section.querySelector(".mid").textContent = duration(axis / 2);
    section.querySelector(".end").textContent = duration(axis);
    drawStatus(section, view);
    drawBars(section, view, axis);
    drawLag(section, view);
    drawGuess(section, view);
  }
  drawScoreboard(views);
}

// --- live: the events ----------------------------------------------------------------------

function apply(update) {
  for (const u of update.lanes) {
    let lane = record.lanes.find((l) => l.variant === u.variant);
    if (!lane) {
      lane = { variant: u.variant, caption: u.caption, requests: u.requests, samples: [], stats: [] };
      record.lanes.push(lane);
    }
    // A lane in the saved race's shape, with only what is new: its lists continue at *_from, its fields replace.
    const { samples, samples_from, stats, stats_from, ...fields } = u;
    lane.samples.length = Math.min(lane.samples.length, samples_from);
    lane.samples.push(...samples);
    lane.stats.length = Math.min(lane.stats.length, stats_from);
    lane.stats.push(...stats);
    Object.assign(lane, fields);
  }
  record.takeaway = update.takeaway || record.takeaway;
  live.done = update.done;
  showQuestion(update.question);
  if (live.mode === "live") render(liveViews());
  if (live.done && $("player").hidden) {
    // The race the room just saw can be replayed, slower: the scrubber at its end, saying how long it was.
    player.pos = replayDuration();
    showPosition(player.pos);
    $("player").hidden = false;
  }
}

function showQuestion(question) {
  const box = $("question");
  if (question !== live.question) {
    live.question = question;
    box.hidden = !question;
    $("question-text").textContent = question || "";
    $("answer").value = "";
    if (question) $("answer").focus();
  }
}

function connect() {
  const events = new EventSource("events");
  events.addEventListener("race", (event) => {
    updates += 1;
    document.body.dataset.updates = String(updates);
    apply(JSON.parse(event.data));
    if (live.done) events.close();
  });
}

// --- replay: the page's own clock -------------------------------------------------------

function position() {
  if (!player.playing) return player.pos;
  return Math.min(replayDuration(), player.base + ((performance.now() - player.since) / 1000) * player.speed);
}

function setSpeed(speed) {
  player.base = position();
  player.since = performance.now();
  player.speed = Math.min(1, Math.max(0.1, speed));
  $("speed").value = String(player.speed);
  $("speed-value").textContent = `${player.speed.toFixed(1)}×`;
}

function play() {
  live.mode = "replay";
  if (player.pos >= replayDuration()) player.pos = 0;
  player.base = player.pos;
  player.since = performance.now();
  player.playing = true;
  document.body.dataset.replay = "playing";
  $("play").textContent = "❚❚ pause";
  requestAnimationFrame(tick);
}

function pause() {
  player.pos = position();
  player.playing = false;
  document.body.dataset.replay = "paused";
  $("play").textContent = "▶ play";
}

function showPosition(t) {
  $("scrub").max = String(replayDuration());
  $("scrub").value = String(t);
  $("position").textContent = `${duration(t)} / ${duration(replayDuration())}`;
}

function tick() {
  const t = position();
  showPosition(t);
  render(viewsAt(t));
  if (!player.playing) return;
  if (t >= replayDuration()) {
    player.pos = t;
    player.playing = false;
    document.body.dataset.replay = "done";
    $("play").textContent = "▶ play";
    return;
  }
  requestAnimationFrame(tick);
}

// --- start ---------------------------------------------------------------------------------

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  $("theme").textContent = theme === "dark" ? "light" : "dark";
}

async function boot() {
  setTheme(params.get("theme") || (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));
  $("theme").addEventListener("click", () => setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
  record = await (await fetch("race")).json();
  if (record.format === "lab-demo-probes/1") return bootProbes(record); // lab demo probes (probes.js)
  $("scenario").textContent = record.scenario;
  $("subtitle").textContent = `${record.requests} requests at once, ${record.delay_ms} ms each` + (record.url ? ` · ${record.url}` : "");
  $("answer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    fetch("answer", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: $("answer").value }) });
  });
  $("play").addEventListener("click", () => (player.playing ? pause() : play()));
  $("speed").addEventListener("input", () => setSpeed(Number($("speed").value)));
  $("scrub").addEventListener("input", () => {
    live.mode = "replay";
    player.pos = Number($("scrub").value);
    player.base = player.pos;
    player.since = performance.now();
    if (!player.playing) tick();
  });
  setSpeed(Number(params.get("speed") || 1));
  if (record.mode === "replay") {
    live.mode = "replay";
    $("player").hidden = false;
    if (params.get("play") === "1") play();
    else tick();
  } else {
    record.lanes = [];
    connect();
  }
}

boot();
