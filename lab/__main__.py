"""`python -m lab ...` is the `lab` command."""

from lab.cli import app

app(prog_name="lab")  # lab.cli.usage.LabGroup: one-line errors, the same exit codes
