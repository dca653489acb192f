"""Names everywhere (issue 15): on a MovieLens 100K folder loaded with ``kgrec load movielens`` and on a ratings
table loaded with ``--items``, no sentence, table or report shows a bare item id where the item has a title.

The data is generated with a planted structure (four genres, each user loves one of them, users of a genre
share an occupation), so every kind of path the graph offers (same category, similar customers, shared
attribute, same brand) leads from users to the items of their genre. Every sentence of every candidate path,
every explanation (supporting, "despite" and the no-support note) and the HTML and Markdown reports are
checked: item ids (``501``...``536``, chosen so that no other figure in the text can look like one) appear only
in parentheses right after the item's title, never alone or in place of it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.settings import Settings
from explain import (
    ExplainedPath,
    Explainer,
    Explanation,
    PathScores,
    ShapeScorer,
    collect_report,
    render_html,
    render_markdown,
)
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from kgrec.cli import app
from kgrec.cli.output import out, recommendation_table
from kgrec.results import Recommendation
from rank import RankConfig

runner = CliRunner()

GENRES = ("Action", "Comedy", "Drama", "Horror")  # each at its position in MovieLens' genre flags
_FLAG = {"Action": 1, "Comedy": 5, "Drama": 8, "Horror": 11}
OCCUPATIONS = ("technician", "writer", "artist", "doctor")
BRANDS = ("Northwind Films", "Contoso Pictures")
_WORDS = ("Silent", "Crimson", "Golden", "Hidden", "Broken", "Distant", "Frozen", "Wild", "Velvet")
_NOUNS = {"Action": "Harbour", "Comedy": "Picnic", "Drama": "Letters", "Horror": "Cellar"}
PER_GENRE, USERS = 9, 40
ID = re.compile(r"(?<![\w.#&-])5\d\d(?![\w])")  # an item id standing alone (not inside 0.530, #e15759, B0530)


def _items() -> dict[str, tuple[str, str]]:
    """Item id -> (title, genre). Titles carry a latin-1 letter and never a digit sequence like an id."""
    items = {}
    for g, genre in enumerate(GENRES):
        for k in range(PER_GENRE):
            title = f"{_WORDS[k]} {_NOUNS[genre]}{' à Paris' if k == 0 else ''} ({1990 + k})"
            items[str(501 + g * PER_GENRE + k)] = (title, genre)
    return items


ITEMS = _items()
TITLES = {i: t for i, (t, _) in ITEMS.items()}


def _ratings(seed: int = 3) -> list[tuple[str, str, int, int]]:
    """Each user loves six of the nine items of their genre (4-5 stars) and dislikes two others (1-2)."""
    rng = random.Random(seed)
    rows = []
    for u in range(1, USERS + 1):
        genre = GENRES[u % len(GENRES)]
        own = [i for i, (_, g) in ITEMS.items() if g == genre]
        other = [i for i, (_, g) in ITEMS.items() if g != genre]
        for item in rng.sample(own, 6):
            rows.append((str(u), item, rng.choice((4, 5)), 881250000 + len(rows)))
        for item in rng.sample(other, 2):
            rows.append((str(u), item, rng.choice((1, 2)), 881250000 + len(rows)))
    return rows


def _ml100k(folder: Path) -> Path:
    folder.mkdir()
    rows = _ratings()
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    lines = []
    for item, (title, genre) in ITEMS.items():
        flags = ["0"] * 19
        flags[_FLAG[genre]] = "1"
        lines.append(f"{item}|{title}|01-Jan-1995||http://x|{'|'.join(flags)}\n")
    (folder / "u.item").write_bytes("".join(lines).encode("latin-1"))
    users = (
        f"{u}|{20 + u}|{'MF'[u % 2]}|{OCCUPATIONS[u % len(GENRES)]}|{85700 + u}\n"
        for u in range(1, USERS + 1)
    )
    (folder / "u.user").write_text("".join(users))
    return folder


def _table(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    ratings = folder / "ratings.csv"
    ratings.write_text("user,item,rating,ts\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in _ratings()))
    items = folder / "items.csv"
    rows = (
        f'{item},"{title}",{BRANDS[int(item) % 2]},Films > {genre}\n'
        for item, (title, genre) in ITEMS.items()
    )
    items.write_text("id,title,brand,category\n" + "".join(rows), encoding="utf-8")
    return ratings, items


def _load(args: Sequence[str]) -> None:
    result = runner.invoke(app, ["load", *args])
    assert result.exit_code == 0, result.output


class _SignedScorer:
    """Scores of both signs, sized against a spread of 1: strong, minor and against sentences all appear; items
    with an even id have no supporting path at all, so their explanation is the no-support note."""

    name = "ranking"

    def __call__(self, user: str, item: str, paths: Sequence[ExplainedPath]) -> PathScores:
        if int(item) % 2 == 0:
            return PathScores([-0.1 - k / 100 for k in range(len(paths))], spread=1.0)
        return PathScores([(0.5, 0.05, -0.2)[k % 3] for k in range(len(paths))], spread=1.0)


def _unrated(store: GraphStore, users: Sequence[str]) -> pd.DataFrame:
    """For each user, the items of their genre they have not rated: the pairs to explain, as recommendations."""
    rows = []
    for user in users:
        seen = set(store.rated_items(user)["item"])
        genre = GENRES[int(user) % len(GENRES)]
        rows += [(user, i, 4.0) for i, (_, g) in ITEMS.items() if g == genre and i not in seen]
    return pd.DataFrame(rows, columns=["user", "item", "score"])


def _bare_ids(text: str) -> list[str]:
    """Item ids that stand alone in ``text`` once each "Title (id)" (or "Title <small>(id)</small>") is taken out:
    an id shown beside its title is fine, one shown instead of it is not."""
    for item, title in TITLES.items():
        for shown in {title, escape(title)}:
            text = re.sub(re.escape(shown) + rf"\s*(?:<small>)?\({item}\)(?:</small>)?", "", text)
    return ID.findall(text)


def _visible_html(html: str) -> str:
    """What a reader sees of a page: the text between tags (the style sheet and attributes left out)."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    for item, title in TITLES.items():  # the key in small print beside its title is fine: keep it as text
        html = html.replace(f"{escape(title)} <small>({item})</small>", escape(title))
    return re.sub(r"<[^>]+>", " ", html)


def _check_explanation(e: Explanation) -> int:
    """Assert ``e`` names its items by title everywhere; the number of sentences checked."""
    checked = 0
    for p in [*e.paths, *e.despite]:
        assert not _bare_ids(p.sentence), p.sentence
        target = p.nodes[-1]
        assert f"*{TITLES[target.key]}*" in p.sentence, p.sentence
        for node in p.nodes:
            if node.label == "Item":
                assert node.name == TITLES[node.key]
                assert f"*{TITLES[node.key]}*" in p.sentence, p.sentence
        checked += 1
    if not e.paths:
        assert e.note and not _bare_ids(e.note) and f"*{TITLES[e.item]}*" in e.note, e.note
        checked += 1
    assert e.item_name == TITLES[e.item]
    return checked


def _check_everything(store: GraphStore, users: Sequence[str], kinds_expected: set[str]) -> None:
    pairs = _unrated(store, users)
    assert len(pairs) >= 2 * len(users)
    kinds: set[str] = set()
    checked = 0
    for explainer in (Explainer(store, ShapeScorer()), Explainer(store, _SignedScorer())):
        for row in pairs.itertuples(index=False):
            for p in explainer.candidates(str(row.user), str(row.item)):  # every sentence, not only the top
                assert not _bare_ids(p.sentence) and f"*{TITLES[p.nodes[-1].key]}*" in p.sentence, p.sentence
                kinds.add(p.kind)
                checked += 1
            checked += _check_explanation(explainer.explain(str(row.user), str(row.item), top=3))
        data = collect_report(store, explainer, pairs, samples=len(pairs), generated="2026-11-30")
        md, html = render_markdown(data), _visible_html(render_html(data))
        for report in (md, html):
            assert not _bare_ids(report), _bare_ids(report)
            for item in set(pairs["item"]):
                assert escape(TITLES[item]) in report
        strengths = {p.strength for r in data.recommendations if r.explanation for p in r.explanation.paths}
        if isinstance(explainer.scorer, _SignedScorer):  # every sentence form was rendered
            assert "Despite:" in md and "None of the" in md and strengths == {"strong", "marginal"}
    assert kinds_expected <= kinds and checked > 100, (kinds, checked)


def test_movielens_folder_names_every_item_in_sentences_and_reports(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    _load(["movielens", str(_ml100k(tmp_path / "ml-100k"))])
    assert store.item_facts(["501"])["501"]["name"] == "Silent Harbour à Paris (1990)"  # latin-1 decoded
    _check_everything(store, [str(u) for u in range(1, 9)], {"category", "similar_users", "user_entity"})


def test_table_with_items_file_names_every_item_in_sentences_and_reports(
    store: GraphStore, cli_env: Settings, tmp_path: Path
) -> None:
    ratings, items = _table(tmp_path / "table")
    _load(["table", "--ratings", str(ratings), "--items", str(items)])
    assert store.item_facts(["502"])["502"]["brands"] == [BRANDS[0]]
    _check_everything(store, [str(u) for u in range(1, 9)], {"brand", "category", "similar_users"})


def test_recommend_explain_and_report_commands_show_titles_and_hide_empty_columns(
    store: GraphStore, cli_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(["movielens", str(_ml100k(tmp_path / "ml-100k"))])
    settings = cli_env.model_copy(update={"model_dir": tmp_path / "model"})
    rec = Recommender(store, settings)
    small = RankConfig(
        params={"lightgcn": {"epochs": 3}, "als": {"iterations": 3}},
        candidates=20,
        fusion_users=40,
        trees=30,
        seed=0,
    )
    rec.fit(TrainConfig(seed=0, text=False, max_epochs=40, patience=10, mf_epochs=20), small)
    monkeypatch.setenv("KGREC_MODEL_DIR", str(settings.model_path))

    shown = runner.invoke(app, ["recommend", "1", "--k", "5"])
    assert shown.exit_code == 0, shown.output
    header = next(line for line in shown.stdout.splitlines() if "item" in line and "score" in line)
    assert "title" in header and "brand" not in header  # MovieLens has no brands: no empty column
    top = [r.item for r in rec.recommend("1", k=5)]
    assert all(TITLES[i][:12] in shown.stdout for i in top)

    for item in top[:1]:
        why = runner.invoke(app, ["explain", "1", item])
        assert why.exit_code == 0, why.output
        assert why.stdout.startswith(f"why {TITLES[item]} ({item}) for 1:"), why.stdout
        assert not _bare_ids(why.stdout), why.stdout
    for fmt in ("md", "html"):
        path = tmp_path / f"report.{fmt}"
        made = runner.invoke(app, ["report", "--out", str(path), "--format", fmt, "--sample", "2"])
        assert made.exit_code == 0, made.output
        text = path.read_text(encoding="utf-8")
        text = _visible_html(text) if fmt == "html" else text
        assert not _bare_ids(text), _bare_ids(text)
        assert sum(escape(t) in text for t in TITLES.values()) >= 5


def test_recommendation_table_drops_columns_empty_in_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    unnamed = [Recommendation(item="530", score=0.9, predicted_rating=4.1)]
    out.print(recommendation_table("plain", unnamed))
    header = next(line for line in capsys.readouterr().out.splitlines() if "item" in line)
    assert "title" not in header and "brand" not in header and "predicted" in header
    named = [*unnamed, Recommendation(item="531", title="Heat (1995)", score=0.8, predicted_rating=None)]
    out.print(recommendation_table("named", named))
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if "item" in line)
    assert "title" in header and "brand" not in header and "Heat (1995)" in printed
    empty = recommendation_table("none", [])
    assert [c.header for c in empty.columns] == ["#", "item", "title", "brand", "score", "predicted"]
