"""``python -m kgrec.cli``: the same as the ``kgrec`` command."""

from kgrec.cli import app

app()
