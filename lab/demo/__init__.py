"""`lab demo`: the instructor's live race.

plan.py      what to race (scenario, burst, twins) and the checks on the command line
race.py      the runner: each twin's burst, with the heartbeat watched beside it
keyboard.py  reading the room's guess key by key in a live screen
"""
