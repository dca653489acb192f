"""Every bad input file is one line naming file, physical line and field, exit status 1, and no write."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from kg import GraphStore
from kgrec.cli import app

runner = CliRunner()
GOOD = b"user,item,rating,ts\n" + b"".join(b"u%d,i%d,4,%d\n" % (n, n % 7, 100 + n) for n in range(20_000))


def _gzip_truncated(path: Path) -> None:
    whole = gzip.compress(GOOD)
    path.write_bytes(whole[: len(whole) // 2])


BAD: dict[str, tuple[Callable[[Path], object], str]] = {
    "a folder": (lambda p: p.mkdir(), r"is a folder; expected a file"),
    "a 10 MB line": (
        lambda p: p.write_text("user,item,rating\n" + "x" * 10_000_000 + "\n"),
        r":2: unreadable record: field larger than field limit",
    ),
    "timestamp inf": (
        lambda p: p.write_text("user,item,rating,ts\nu1,i1,5,inf\n"),
        r":2 \(field ts\).*timestamp 'inf' is not a finite number",
    ),
    "timestamp 1e400": (
        lambda p: p.write_text("user,item,rating,ts\nu1,i1,5,1e400\n"),
        r":2 \(field ts\).*not a finite number",
    ),
    "timestamp 1e30": (
        lambda p: p.write_text("user,item,rating,ts\nu1,i1,5,1e30\nu2,i1,4,10\n"),
        r":2 \(field ts\).*out of range",
    ),
    "rating nan": (
        lambda p: p.write_text("user,item,rating\nu1,i1,nan\n"),
        r":2 \(field rating\).*finite number",
    ),
    "a quoted newline before a bad row": (
        lambda p: p.write_text('user,item,rating\n"u\n1",i1,5\nu2,i2,9\n'),
        r":4 \(field rating\): .*rating 9 outside the scale",
    ),
    "a non-gzip file named .gz": (
        lambda p: p.write_text("user,item,rating\nu1,i1,5\n"),
        r"named \.gz but not gzip-compressed",
    ),
    "a truncated .gz": (_gzip_truncated, r":\d+: compressed data is truncated or corrupt"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_ratings_file_is_one_clear_line(
    case: str, store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    make, expected = BAD[case]
    path = tmp_path / ("ratings.csv.gz" if ".gz" in case else "ratings.csv")
    make(path)
    before = store.stats()
    result = runner.invoke(app, ["load", "table", "--ratings", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), result.output
    assert re.search(expected, lines[0]), lines[0]
    assert store.stats() == before


def test_an_attribute_file_with_a_header_row_does_not_load_the_header(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user,item,rating\nu1,i1,5\nu2,i2,4\n")
    brands = tmp_path / "brands.csv"
    brands.write_text("item,value\ni1,Acme\ni2,Bolt\n")
    result = runner.invoke(
        app, ["load", "table", "--ratings", str(ratings), "--item-attr", f"Brand={brands}"]
    )
    assert result.exit_code == 0, result.output
    names = {r["name"] for r in store.read("MATCH (b:Brand) RETURN b.name AS name")}
    assert names == {"Acme", "Bolt"}
    assert not store.read("MATCH (i:Item {id: 'item'}) RETURN i")


def test_a_fresh_process_prints_the_one_line_and_nothing_else(cli_env: Settings, tmp_path: Path) -> None:
    """Third-party import warnings (PyG's torch.jit.script) must not reach the user's terminal."""
    kgrec = Path(sys.executable).parent / "kgrec"
    done = subprocess.run(
        [str(kgrec), "load", "table", "--ratings", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path}: is a folder; expected a file"]


def test_header_forces_the_first_row_of_every_table_to_be_names(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("u,i,r\nu1,i1,5\nu2,i2,4\n")  # names the guess cannot tell from data
    brands = tmp_path / "brands.csv"
    brands.write_text("sku,maker\ni1,Acme\ni2,Bolt\n")
    args = ["load", "table", "--ratings", str(ratings), "--item-attr", f"Brand={brands}", "--header"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {r["name"] for r in store.read("MATCH (b:Brand) RETURN b.name AS name")} == {"Acme", "Bolt"}
    assert {r["id"] for r in store.read("MATCH (u:User) RETURN u.id AS id")} == {"u1", "u2"}
