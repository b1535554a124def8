"""The views: the only modules that import rich (and matplotlib). They draw; they never measure.

theme.py      named styles (durations are written by `lab.durations`)
burst.py      a burst's report and a comparison's (`lab burst`, `lab compare`)
steady.py     `lab load`: its live view of the last seconds and its report
scan.py       `lab scan`'s table of routes, findings, lint; `lab lint`'s findings
probe_demo.py `lab demo probes`: each twin's traffic and probe lane, restarts marked, the summary
demo.py       the demo's frame: lanes of bars, the lag meter, the scoreboard; SVG/HTML export
course.py     exercise lists, check reports, hints
classroom.py  `lab class report`: one row per exercise, how many pass, the misconceptions to teach again
jupyter.py    the same renderings in a notebook
plot.py       matplotlib timelines (`lab.plot`)
web/          the demo page's HTML, CSS and JavaScript
"""
