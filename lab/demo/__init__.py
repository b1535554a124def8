"""`lab demo`: the instructor's live race. Data flows one way: runner -> model -> views.

plan.py      what to race (scenario, burst, twins) and the checks on the command line
model.py     the one lane model (`Lane` written by the runner, `LaneView`/`RaceView` snapshots): no rich, no I/O
race.py      the runner: each twin's burst, with the heartbeat watched beside it; hands out `RaceView`s
keyboard.py  reading the room's guess key by key in a live screen
record.py    the one JSON shape of a race: the saved file, the page's events, a saved race read back (pure)
replay.py    a saved race drawn again in the terminal, on its own clock
web.py       the browser view: the page, its event stream of changes, the room's answers from it
session.py   `lab demo` from its options to its last line: server, runner, views, --save (the CLI calls it)
probe_race.py     `lab demo probes`: each twin under steady traffic with the kubelet's probes beside it
probe_model.py    the probe race's snapshot: lanes of seconds, probe ticks, restarts, time out of rotation (pure)
probe_session.py  `lab demo probes` from its options to its last line: servers, runner, terminal or page
"""
