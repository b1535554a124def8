"""The load side: fire bursts at a server, read its own view, measure, judge, compare. Never imports FastAPI.

fire.py     the firing loop: one shared start, each request timed from it
stats.py    the one client of a lab server's `/lab/stats`
burst.py    `burst()`: warm up, fire, read the server, judge (`BurstResult`)
measure.py  samples -> statistics (pure)
verdict.py  statistics + the server's view -> a verdict with reasons (pure)
compare.py  one burst at each twin of a scenario (`Comparison`)
"""
