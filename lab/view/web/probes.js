// lab demo probes: each twin's steady traffic, a bar per second (answered; red where errors came back), and
// under it the probe strip: a tick per probe attempt (green passed, red failed), shaded while the pod was out
// of the Service's endpoints, the kubelet's restarts marked where they happened. Drawn from
// lab.demo.probe_model's JSON (`lab-demo-probes/1`): GET /race once, then the whole race at each `probes` event.
"use strict";

const SLOW_S = 1; // a second whose p99 passed a probe's default timeout is drawn as a problem
const MARK_PX = 150; // "▲ restart 1" in bold at 24 px, and its gap
const LABEL_PX = 90; // a p99 label ("1,000 ms" at 20 px) and its gap

function pct(t, axis) {
  return `${Math.max(0, Math.min(100, (t / axis) * 100)).toFixed(3)}%`;
}

function probeSection(lane) {
  let section = document.querySelector(`.lane[data-variant="${lane.variant}"]`);
  if (!section) {
    section = document.createElement("section");
    section.className = "lane probe-lane";
    section.dataset.variant = lane.variant;
    section.innerHTML = `<h2>${escapeHtml(lane.variant)} <span class="caption"></span></h2>
      <div class="status"></div>
      <div class="row"><span class="row-label">answered/s</span><div class="traffic"></div></div>
      <div class="row"><span class="row-label">p99</span><div class="p99s dim"></div></div>
      <div class="row"><span class="row-label">probes</span><div class="probe-strip"></div></div>
      <div class="row"><span class="row-label">kubelet</span><div class="marks"></div></div>
      <div class="row"><span class="row-label"></span><div class="axis"><span>0</span><span class="mid"></span><span class="end"></span></div></div>`;
    $("lanes").appendChild(section);
  }
  return section;
}

function drawTraffic(section, lane, axis, rate) {
  const html = lane.seconds.map((s) => {
    const kind = s.errors ? "bad" : s.p99_ms !== null && s.p99_ms >= SLOW_S * 1000 ? "slow" : "ok";
    const height = Math.min(100, (s.answered / rate) * 100);
    return `<i class="${kind}" style="left:${pct(s.t, axis)};width:${pct(0.9, axis)};height:${height}%" title="${s.answered} answered, ${s.errors} errors"></i>`;
  });
  section.querySelector(".traffic").innerHTML = html.join("");
  // Each second's p99 where it fits: on a narrow screen every second or third one, never one over another.
  const room = section.querySelector(".p99s").clientWidth || 800;
  const step = Math.max(1, Math.ceil(LABEL_PX / (room / axis)));
  const labels = lane.seconds.filter((s) => s.p99_ms !== null && s.t % step === 0);
  section.querySelector(".p99s").innerHTML = labels
    .map((s) => `<span style="left:${pct(s.t, axis)}">${shortDuration(s.p99_ms / 1000)}</span>`)
    .join("");
}

function shortDuration(s) {
  return s >= 1 ? `${s.toFixed(1)} s` : `${Math.round(s * 1000)} ms`;
}

function drawStrip(section, lane, axis) {
  const spans = lane.out_of_rotation.map(
    ([a, b]) => `<span class="out" style="left:${pct(a, axis)};width:${pct(b - a, axis)}"></span>`,
  );
  const ticks = lane.probes.map(
    (p) =>
      `<span class="tick ${p.outcome === "ok" ? "ok" : "bad"}" data-outcome="${p.outcome}" data-at="${p.sent_at_s}" style="left:${pct(p.sent_at_s, axis)}" title="${p.kind} at ${p.sent_at_s.toFixed(1)} s: ${p.outcome}"></span>`,
  );
  section.querySelector(".probe-strip").innerHTML = spans.join("") + ticks.join("");
  const restarts = lane.decisions.filter((d) => d.action === "restart");
  // Restarts close together on a narrow screen are marked by number alone ("▲ 2"); the sentence is its title.
  const room = section.querySelector(".marks").clientWidth || 800;
  const gaps = restarts.slice(1).map((d, i) => d.at_s - restarts[i].at_s);
  const short = gaps.some((gap) => (gap / axis) * room < 2 * MARK_PX); // a late label runs back from its tick
  section.querySelector(".marks").innerHTML = restarts
    .map((d) => {
      const label = escapeHtml(short ? String(d.label).replace("restart ", "") : d.label);
      // Near the right edge the label ends at its tick, so it stays inside the lane.
      const late = (1 - d.at_s / axis) * room < MARK_PX;
      const text = late ? `${label} ▲` : `▲ ${label}`;
      return `<span class="mark${late ? " late" : ""}" data-at="${d.at_s}" style="left:${pct(d.at_s, axis)}" title="${escapeHtml(d.text)}">${text}</span>`;
    })
    .join("");
}

function probeStatus(lane) {
  if (lane.state === "waiting") return "waiting";
  const failed = lane.probes.filter((p) => p.outcome !== "ok").length;
  const restarts = `${lane.restarts} restart${lane.restarts === 1 ? "" : "s"}`;
  return `${lane.state === "done" ? "" : "running · "}${restarts} · ${failed} of ${lane.probes.length} probes failed`;
}

function drawProbeSummary(race) {
  const table = $("scoreboard");
  table.classList.add("probes");
  table.querySelector("thead").innerHTML =
    "<tr><th>twin</th><th>answered</th><th>errors</th><th>p99</th><th>probes failed</th><th>restarts</th><th>out of rotation</th></tr>";
  table.querySelector("tbody").innerHTML = race.lanes
    .map((l) => {
      const failed = l.probes.filter((p) => p.outcome !== "ok").length;
      const done = l.state === "done";
      return `<tr data-variant="${l.variant}"><td>${escapeHtml(l.variant)}</td><td>${l.answered}</td><td>${l.errors}</td>
        <td>${done ? duration(l.p99_ms / 1000) : "-"}</td><td>${failed} of ${l.probes.length}</td>
        <td class="${l.restarts ? "serialized" : "concurrent"}">${l.restarts}</td><td>${done ? `${l.out_of_rotation_s.toFixed(1)} s` : "-"}</td></tr>`;
    })
    .join("");
  table.hidden = false;
}

function renderProbes(race) {
  for (const lane of race.lanes) {
    const section = probeSection(lane);
    section.dataset.state = lane.state;
    section.dataset.kind = lane.restarts ? "serialized" : lane.state === "done" ? "concurrent" : "";
    section.dataset.restarts = String(lane.restarts);
    section.querySelector(".caption").textContent = lane.url;
    section.querySelector(".status").textContent = probeStatus(lane);
    section.querySelector(".mid").textContent = duration(race.axis_s / 2);
    section.querySelector(".end").textContent = duration(race.axis_s);
    drawTraffic(section, lane, race.axis_s, race.rate);
    drawStrip(section, lane, race.axis_s);
  }
  drawProbeSummary(race);
  const why = $("why");
  why.hidden = !race.done;
  why.innerHTML = withCode(escapeHtml(race.why));
  document.body.dataset.done = String(race.done);
}

function bootProbes(first) {
  $("scenario").textContent = "probes";
  $("subtitle").textContent = `${first.title} · ${first.probes.join("; ")}`;
  document.querySelector(".legend").innerHTML =
    '<span class="swatch tick-ok"></span> probe passed <span class="swatch tick-bad"></span> probe failed (timeout, status)' +
    ' <span class="swatch out"></span> out of the Service\'s endpoints <b class="alarm">▲</b> the kubelet restarts the container';
  $("lanes").classList.add("probe-lanes");
  renderProbes(first);
  if (first.done) return;
  const events = new EventSource("events");
  events.addEventListener("probes", (event) => {
    updates += 1;
    document.body.dataset.updates = String(updates);
    const race = JSON.parse(event.data);
    renderProbes(race);
    if (race.done) events.close();
  });
}
