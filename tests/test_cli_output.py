"""Data is never markup: catalogue text with brackets or escape codes is printed as it is, safely."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from kg import GraphStore
from kgrec.cli import app
from kgrec.cli.output import fail, out, recommendation_table
from kgrec.results import Recommendation

runner = CliRunner()
TITLES = ["Songs [feat. x]", "[/]", "red\x1b[31m alert", "[bold]loud[/bold] :smile:"]


def test_titles_with_brackets_and_escape_codes_print_as_plain_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [
        Recommendation(item=f"i{n}", title=title, brand="[b]", score=1.0 - n / 10, predicted_rating=4.0)
        for n, title in enumerate(TITLES)
    ]
    out.print(recommendation_table("for [/]", rows))
    printed = capsys.readouterr().out
    for kept in ("Songs [feat. x]", "[/]", "[bold]loud[/bold] :smile:", "[b]"):
        assert kept in printed
    assert "\x1b" not in printed and "red\\x1b[31m alert" in printed


def test_the_error_line_prints_data_that_looks_like_markup(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(Exception) as exit_info:
        fail("no user '[/]' in \x1b[2J the graph")
    assert getattr(exit_info.value, "exit_code", None) == 1
    printed = capsys.readouterr().err
    assert "error: no user '[/]' in \\x1b[2J the graph" in printed


def test_cypher_rows_and_errors_with_markup_reach_the_terminal_unchanged(
    store: GraphStore, cli_env: Settings
) -> None:
    shown = runner.invoke(app, ["cypher", "RETURN '[/]' AS t, $e AS e", "-p", "e=\x1b[31m[feat. x]"])
    assert shown.exit_code == 0, shown.output
    assert "[/]" in shown.stdout and "\\x1b[31m[feat. x]" in shown.stdout and "\x1b" not in shown.stdout
    broken = runner.invoke(app, ["cypher", "RETURN [/]"])
    assert broken.exit_code == 1 and "error:" in broken.output and "Traceback" not in broken.output
