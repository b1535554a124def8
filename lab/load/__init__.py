"""The load side: fire bursts and steady traffic at a server, probe it as the kubelet would, read its own view,
measure, judge, compare. Never imports FastAPI.

fire.py     the firing loop: one shared start, each request timed from it
stats.py    the one client of a lab server's `/lab/stats`
burst.py    `burst()`: warm up, fire, read the server, judge (`BurstResult`)
measure.py  samples -> statistics (pure)
verdict.py  statistics + the server's view -> a verdict with reasons (pure)
rates.py    rates and durations as typed (pure): the one reader of `30s`, `500ms`, `2m`
steady.py   `lab load`: open-loop traffic at a fixed rate, each latency from its scheduled send
latency.py  the steady run's histograms and per-second timeline (pure)
probes.py   probe specs from `--probe` or a manifest (pure)
kubelet.py  the kubelet's decisions from probe attempts (pure)
prober.py   the probes on their own thread, loop and clock
restart.py  a lab-started server restarted as the kubelet does: SIGTERM, grace, SIGKILL, the same port
probed.py   steady traffic with the prober (and the restarter) beside it on one time axis
compare.py  one burst, or the same steady traffic, at each twin of a scenario
openapi.py  `lab scan`: which requests to send, one per operation, valid for the app's OpenAPI schema
scan.py     `lab scan APP`: serve the app, burst each route in turn, judge each one
findings.py one route's burst -> a finding: the kind of mistake, where, the fix, the lesson (pure)
scan_report.py  `lab scan`'s report as data: JSON and JUnit XML
"""
