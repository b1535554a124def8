"""`lab demo`: the instructor's live race.

plan.py      what to race (scenario, burst, twins) and the checks on the command line
race.py      the runner: each twin's burst, with the heartbeat watched beside it
keyboard.py  reading the room's guess key by key in a live screen
record.py    a whole race kept as JSON (`--save`), and what it looked like at any moment of a replay
replay.py    `--replay race.json`: a saved race drawn again in the terminal, with no server running
web.py       `--web`: the race in a browser, served by the `lab demo` process itself
"""
