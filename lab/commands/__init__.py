"""Groups of `lab` commands, one module each. Each module has `register(app)`, called by `lab.cli`.

Keep imports at the top of these modules light (typer only): import the lab's heavy modules inside
the command functions, so that `lab --help` stays fast.
"""
