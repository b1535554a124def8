"""The load side: bursts and steady traffic at a server, its own view, probes. Never imports FastAPI.

fire.py     the firing loop: one shared start, each request timed from it
stats.py    the one client of a lab server's `/lab/stats`
burst.py    `burst()`: warm up, fire, read the server, judge (`BurstResult`)
measure.py  samples -> statistics (pure)
verdict.py  statistics + the server's view -> a verdict with reasons (pure)
compare.py  one burst at each twin of a scenario (`Comparison`)
steady.py   `lab load`: steady open-loop traffic, each request timed from its scheduled send
rates.py    rates and durations as people type them (`50/s`, `3000/m`, `30s`, `500ms`) (pure)
latency.py  the steady load's statistics: HDR percentiles, a per-second timeline, errors by kind (pure)
probes.py   Kubernetes probe specs, from `--probe` or a manifest's containers (pure)
kubelet.py  the kubelet's decisions from probe attempts: restarts, out of rotation, back-off (pure)
prober.py   a prober beside the traffic, as the kubelet is: its own thread, loop, clock and connections
openapi.py  `lab scan`: which requests to send, one per operation, valid for the app's OpenAPI schema
scan.py     `lab scan APP`: serve the app, burst each route in turn, judge each one
findings.py one route's burst -> a finding: the kind of mistake, where, the fix, the lesson (pure)
scan_report.py  `lab scan`'s report as data: JSON and JUnit XML
restart.py  a restart as the kubelet does it: SIGTERM, a grace period, SIGKILL, the same app started again
"""
