"""The course: the exercise catalog, checking a learner's file against the solution, hints and progress.

catalog.py   `exercises/info.toml` -> `Exercise` objects
check.py     run the learner's file and the solution under the same burst, or the same steady traffic (orchestration)
traffic.py   one server under an exercise's steady traffic with the kubelet's probes beside it
course.py    the course a command is handed: catalog, progress store, current exercise, project root
results.py   what a check produces: both runs, the faults found, the verdict
faults.py    what went wrong in the learner's process: did not load, raised, hung, crashed, leaked
grade.py     measurements + expectations -> pass/fail with reasons (pure)
lint.py      static hints pointing at lines (ruff's ASYNC rules + an AST pass)
progress.py  `.lab/progress.json`, backups, pristine copies
report_files.py  the report files: JUnit and Gradescope written whole, a class's results.json read back
scan_lint.py the exercises' lint beside `lab scan`'s findings (and `lab lint`)
workspace.py the learner's workspace from the lab as it ships: `lab init` makes it, `lab update` refreshes it
watch.py     re-check on every save
report.py    reports for graders and instructors: JUnit XML, Gradescope's `results.json`, a class summary
"""
