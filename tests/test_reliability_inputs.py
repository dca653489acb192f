"""Inputs bounded where they enter (issue 26): event and newcomer ratings on the graph's rating scale, an
event's ``ts`` kept as sent, and every file a loader reads checked and decoded by one rule (encodings, NUL,
byte-order marks, link loops, unreadable files, FIFOs), with the HIN rating rule failing loudly on a ratings
file with a few values off the scale. Real files, the real CLI, the session's Neo4j and the real app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from core.settings import Settings
from kg import GraphStore
from kgrec.cli import app
from kgrec.service import ServiceSettings, create_app
from loaders import read_hin, read_table

runner = CliRunner()
KEY = "reliability-inputs-key"
KGREC = Path(sys.executable).parent / "kgrec"


def _ratings(path: Path, items: int = 30, scale: tuple[int, int] = (1, 5)) -> Path:
    low, high = scale
    rows = "".join(f"u{n},i{n % items},{low + n % (high - low + 1)}\n" for n in range(2 * items))
    path.write_text("user,item,rating\n" + rows)
    return path


def _brands(items: int = 30) -> str:
    return "item,brand\n" + "".join(f"i{n},Brand{n % 3}\n" for n in range(items))


def _one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def _cli(
    args: list[str], *, drop_root_reads: bool = False, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``kgrec ARGS`` in a fresh process. ``drop_root_reads``: root (as in this sandbox) reads any file, so
    the process runs without the capabilities that let it (setpriv), and a 0o000 file is unreadable to it as
    to any user."""
    command = [str(KGREC), *args]
    if drop_root_reads and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv is not None, (
            "running as root: setpriv (util-linux) is needed to test an unreadable file"
        )
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


# --- the service: event and newcomer ratings on the graph's scale, ts kept --------------------------------


@pytest.fixture
def client(store: GraphStore, neo4j_settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The real app on the session's Neo4j holding 1-5 ratings of items i0..i29 (no model: the event routes
    and the checks before serving need none)."""
    store.write(read_table(_ratings(tmp_path / "ratings.csv")))
    settings = neo4j_settings.model_copy(update={"model_dir": tmp_path / "no-model"})
    service = create_app(settings, ServiceSettings(api_key=SecretStr(KEY)))
    with TestClient(service, headers={"X-API-Key": KEY}) as http:
        deadline = time.monotonic() + 60
        while service.state.kgrec.store is None:
            assert time.monotonic() < deadline, service.state.kgrec.startup_error
            time.sleep(0.1)
        yield http


def _rating(value: float, event: str = "e1") -> dict[str, object]:
    return {"events": [{"id": event, "user": "u1", "item": "i1", "kind": "rating", "value": value}]}


@pytest.mark.parametrize("value", [1_000_000, -5, 0])
def test_an_event_rating_off_the_scale_is_refused_naming_the_field(
    client: TestClient, store: GraphStore, value: float
) -> None:
    before = store.read("MATCH (:User {id: 'u1'})-[r:RATED]->(:Item {id: 'i1'}) RETURN r.rating AS rating")
    answer = client.post("/events", json=_rating(value))
    assert answer.status_code == 422, answer.text
    assert "events[0].value" in answer.json()["error"] and "scale 1-5" in answer.json()["error"]
    assert store.read("MATCH (e:Event) RETURN e") == []
    after = store.read("MATCH (:User {id: 'u1'})-[r:RATED]->(:Item {id: 'i1'}) RETURN r.rating AS rating")
    assert after == before
    kept = client.post("/events", json=_rating(4.5, "e2"))  # on the scale: written
    assert kept.status_code == 200 and kept.json()["accepted"] == ["e2"], kept.text


def test_the_scale_is_the_graphs(store: GraphStore, client: TestClient, tmp_path: Path) -> None:
    """A graph loaded on a 1-10 scale takes an 8 that a 1-5 graph refuses; an event never widens it."""
    assert client.post("/events", json=_rating(8)).status_code == 422
    store.write(read_table(_ratings(tmp_path / "ten.csv", scale=(1, 10)), scale=(1.0, 10.0)))
    assert client.post("/events", json=_rating(8)).status_code == 200
    assert client.post("/events", json=_rating(11, "e2")).status_code == 422


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e9"])
def test_a_newcomers_rating_must_be_finite_and_on_the_scale(client: TestClient, raw: str) -> None:
    body = '{"ratings": {"i1": ' + raw + ', "i2": 4}, "k": 5}'  # NaN is not JSON; Python's parser takes it
    answer = client.post(
        "/recommendations/new-user", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert "i1" in answer.text
    fine = client.post("/recommendations/new-user", json={"ratings": {"i1": 1, "i2": 4}, "k": 5})
    assert fine.status_code == 503, fine.text  # past the checks: no model serves yet


def test_an_event_at_ts_0_is_stored_at_0(client: TestClient, store: GraphStore) -> None:
    events = [
        {"id": "v0", "user": "u1", "item": "i2", "kind": "view", "ts": 0},
        {"id": "v1", "user": "u1", "item": "i3", "kind": "view"},
    ]
    sent = time.time()
    assert client.post("/events", json={"events": events}).status_code == 200
    stored = {r["id"]: r["ts"] for r in store.read("MATCH (e:Event) RETURN e.id AS id, e.ts AS ts")}
    assert stored["v0"] == 0 and stored["v1"] >= int(sent) - 1
    last = store.read("MATCH (:User {id: 'u1'})-[r:VIEWED]->(:Item {id: 'i2'}) RETURN r.last AS last")
    assert last == [{"last": 0}]


# --- loader files: one check and one decoding rule for every file ------------------------------------------


def _load_table(tmp_path: Path, ratings: Path | None = None, brands: Path | None = None) -> list[str]:
    args = ["load", "table", "--ratings", str(ratings or _ratings(tmp_path / "ratings.csv"))]
    return args + (["--item-attr", f"Brand={brands}"] if brands is not None else [])


@pytest.mark.parametrize("which", ["ratings", "item-attr"])
def test_utf16_with_a_mark_is_decoded_for_every_file(
    which: str, store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    ratings, brands = _ratings(tmp_path / "ratings.csv"), tmp_path / "brands.csv"
    brands.write_text(_brands())
    utf16 = ratings if which == "ratings" else brands
    utf16.write_text(utf16.read_text(), encoding="utf-16")  # with its byte-order mark, as Excel saves it
    result = runner.invoke(app, _load_table(tmp_path, ratings, brands))
    assert result.exit_code == 0, result.output
    assert {r["id"] for r in store.read("MATCH (i:Item) RETURN i.id AS id")} == {f"i{n}" for n in range(30)}
    names = {r["name"] for r in store.read("MATCH (:Item)-[:MADE_BY]->(b:Brand) RETURN b.name AS name")}
    assert names == {"Brand0", "Brand1", "Brand2"}


@pytest.mark.parametrize("which", ["ratings", "item-attr"])
def test_utf16_without_a_mark_is_refused_the_same_way_for_every_file(
    which: str, store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    ratings, brands = _ratings(tmp_path / "ratings.csv"), tmp_path / "brands.csv"
    brands.write_text(_brands())
    utf16 = ratings if which == "ratings" else brands
    utf16.write_bytes(utf16.read_text().encode("utf-16-le"))
    before = store.stats()
    result = runner.invoke(app, _load_table(tmp_path, ratings, brands))
    assert result.exit_code == 1
    line = _one_line(result.output)
    assert line.startswith(f"error: {utf16}: ") and "not UTF-8 text" in line, line
    assert store.stats() == before


@pytest.mark.parametrize(
    ("which", "field"), [("ratings", "item"), ("item-attr", "brand"), ("hin", "column 1")]
)
def test_an_id_or_name_with_a_nul_is_refused_naming_file_line_and_field(
    which: str, field: str, store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    ratings, brands = _ratings(tmp_path / "ratings.csv"), tmp_path / "brands.csv"
    brands.write_text(_brands())
    if which == "hin":
        folder = tmp_path / "hin"
        folder.mkdir()
        (folder / "user_item.dat").write_text("".join(f"{n}\t{n % 4}\t{1 + n % 5}\n" for n in range(20)))
        (folder / "item_brand.dat").write_text("0,7\n1\x00x,8\n")
        bad, args, line = folder / "item_brand.dat", ["load", "hin", str(folder)], 2
    else:
        bad = ratings if which == "ratings" else brands
        rows = bad.read_text().splitlines()
        rows[4] = rows[4].replace("i", "i\x00", 1) if which == "ratings" else rows[4] + "\x00Co"
        bad.write_text("\n".join(rows) + "\n")
        args, line = _load_table(tmp_path, ratings, brands), 5
    before = store.stats()
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert _one_line(result.output).startswith(f"error: {bad}:{line} (field {field}): holds a NUL"), (
        result.output
    )
    assert store.stats() == before
    assert (
        store.read("MATCH (n) WHERE any(k IN keys(n) WHERE toString(n[k]) CONTAINS '\\u0000') RETURN n") == []
    )


def _hin(folder: Path, ratings: str | None = None) -> Path:
    folder.mkdir()
    rows = ratings or "".join(f"{n}\t{n % 4}\t{1 + n % 5}\n" for n in range(20))
    (folder / "user_item.dat").write_text(rows)
    return folder


def test_a_byte_order_mark_is_never_part_of_an_id(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    folder = _hin(tmp_path / "hin")
    (folder / "item_brand.dat").write_bytes("0,7\n1,8\n2,7\n".encode("utf-8-sig"))  # headerless, with a mark
    (folder / "item_view.dat").write_bytes(
        b"3,9\n" + "\ufeff0,9\n".encode()
    )  # two files joined: a mark inside
    result = runner.invoke(app, ["load", "hin", str(folder)])
    assert result.exit_code == 0, result.output
    ids = {r["id"] for r in store.read("MATCH (i:Item) RETURN i.id AS id")}
    assert ids == {"0", "1", "2", "3"}
    made = store.read(
        "MATCH (i:Item)-[:MADE_BY]->(b:Brand) RETURN i.id AS item, b.name AS brand ORDER BY item"
    )
    assert [(r["item"], r["brand"]) for r in made] == [("0", "7"), ("1", "8"), ("2", "7")]
    assert (
        store.read("MATCH (n) WHERE any(k IN keys(n) WHERE toString(n[k]) CONTAINS '\\ufeff') RETURN n") == []
    )


def test_a_knowledge_file_that_is_a_link_loop_is_an_error(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    folder = _hin(tmp_path / "hin")
    (folder / "item_brand.dat").write_text("0,7\n")
    (folder / "item_view.dat").symlink_to(folder / "item_view.dat")
    before = store.stats()
    result = runner.invoke(app, ["load", "hin", str(folder)])
    assert result.exit_code == 1
    line = _one_line(result.output)
    assert line == f"error: {folder / 'item_view.dat'}: a symbolic link loop (the links never reach a file)"
    assert store.stats() == before


@pytest.mark.parametrize("which", ["hin knowledge", "item-attr"])
def test_an_unreadable_knowledge_or_attribute_file_is_one_line(
    which: str, store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    if which == "hin knowledge":
        folder = _hin(tmp_path / "hin")
        bad = folder / "item_brand.dat"
        bad.write_text("0,7\n")
        args = ["load", "hin", str(folder)]
    else:
        bad = tmp_path / "brands.csv"
        bad.write_text(_brands())
        args = _load_table(tmp_path, brands=bad)
    bad.chmod(0)
    before = store.stats()
    done = _cli(args, drop_root_reads=True)
    assert done.returncode == 1, done.stderr
    assert _one_line(done.stderr) == f"error: {bad}: cannot be read: permission denied"
    assert store.stats() == before


def test_a_fifo_as_the_ratings_file_is_refused_at_once(cli_env: Settings, tmp_path: Path) -> None:
    fifo = tmp_path / "ratings.csv"
    os.mkfifo(fifo)
    done = _cli(["load", "table", "--ratings", str(fifo)], timeout=60)  # before: blocked for ever
    assert done.returncode == 1
    assert _one_line(done.stderr) == f"error: {fifo}: is a FIFO (named pipe), not a regular file; give a file"


# --- the HIN rating rule -----------------------------------------------------------------------------------


def test_ratings_with_a_few_values_off_the_scale_fail_naming_their_lines(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    rows = "".join(f"{n % 40}\t{n}\t{1 + n % 5}\n" for n in range(300)) + "7\t300\t6\n"
    folder = _hin(tmp_path / "hin", rows)
    before = store.stats()
    result = runner.invoke(app, ["load", "hin", str(folder)])
    assert result.exit_code == 1
    line = _one_line(result.output)
    assert line.startswith(f"error: {folder / 'user_item.dat'}:301 (field rating): 1 of 301 values"), line
    assert "lines 301 (6)" in line and "--values" in line
    assert store.stats() == before
    loaded = runner.invoke(app, ["load", "hin", str(folder), "--values", "ratings"])  # as the user said
    assert loaded.exit_code == 0, loaded.output
    stars = {r["rating"] for r in store.read("MATCH ()-[r:RATED]->() RETURN DISTINCT r.rating AS rating")}
    assert stars == {1.0, 2.0, 3.0, 4.0, 5.0}  # every rating as written; the 6 rejected


def test_a_file_that_is_clearly_counts_is_read_as_counts(tmp_path: Path) -> None:
    rows = "".join(f"{n % 10}\t{n}\t{1 + n % 5 if n % 4 else 40 + n}\n" for n in range(100))  # a quarter > 5
    ds = read_hin(_hin(tmp_path / "hin", rows))
    assert "implicit feedback" in ds.report.files[0].note
    assert ds.ratings["rating"].between(1, 5).all() and ds.ratings["rating"].max() == 5.0
