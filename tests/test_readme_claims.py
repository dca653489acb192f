"""README claims that no other test ran: ``kgrec demo --magazine FOLDER`` runs the demo on the Amazon 2018
magazine files, and ``Recommender.recommend_for_new_user`` restricts the catalogue to stated categories."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from core.errors import InputError
from core.settings import Settings
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from kgrec.cli import app
from loaders.demo import DemoTruth, demo_dataset
from rank import RankConfig
from tests.conftest import SHARED_DATA

SMALL_RANK = RankConfig(
    params={"lightgcn": {"epochs": 2}, "als": {"iterations": 2}},
    candidates=20,
    fusion_users=60,
    trees=20,
    seed=0,
)
SMALL = TrainConfig(seed=0, text=False, max_epochs=10, mf_epochs=10, patience=5, bias_epochs=3)
MAGAZINE = SHARED_DATA / "amazon2018-magazine"
META, RATINGS = "meta_Magazine_Subscriptions.json.gz", "Magazine_Subscriptions.ratings.csv"


@pytest.fixture(scope="module")
def trained(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Recommender, DemoTruth]:
    session_store.reset()
    dataset, truth = demo_dataset(n_users=60, n_items=48, ratings_per_user=10, seed=3)  # 8 items a branch
    settings = neo4j_settings.model_copy(update={"model_dir": tmp_path_factory.mktemp("claims") / "model"})
    rec = Recommender(session_store, settings)
    rec.load_dataset(dataset)
    rec.fit(SMALL, SMALL_RANK)
    return rec, truth


def test_new_user_categories_restrict_the_catalogue(trained: tuple[Recommender, DemoTruth]) -> None:
    rec, truth = trained
    branch = truth.item_branch

    def branches(rows: list[object]) -> list[str]:
        return [branch[r.item] for r in rows]  # type: ignore[attr-defined]

    assert set(branches(rec.recommend_for_new_user(categories=["Coffee"], k=5))) == {"Coffee"}
    # a root stands for its subcategories: 12 items need both of Kitchen's branches (8 items each)
    kitchen = rec.recommend_for_new_user(categories=["Kitchen"], k=12)
    assert len(kitchen) == 12 and set(branches(kitchen)) == {"Coffee", "Baking"}
    assert set(branches(rec.recommend_for_new_user(categories=["Kitchen > Baking"], k=4))) == {"Baking"}
    either = rec.recommend_for_new_user(categories=["Coffee", "Camping"], k=10)  # any of the categories
    assert len(either) == 10 and set(branches(either)) == {"Coffee", "Camping"}
    # with a brand too: the brand's items in those categories
    branded = rec.recommend_for_new_user(brands=["Inkwell", "Flourish"], categories=["Reading"], k=4)
    assert branded and {r.brand for r in branded} == {"Inkwell"}
    # with ratings: what the newcomer rated is left out, the rest is in the category
    rated = sorted(i for i, b in branch.items() if b == "Coffee")[:2]
    known = rec.recommend_for_new_user(ratings={i: 5.0 for i in rated}, categories=["Coffee"], k=6)
    assert len(known) == 6 and set(branches(known)) == {"Coffee"} and not {r.item for r in known} & set(rated)
    with pytest.raises(InputError, match="'Espresso Bars'"):
        rec.recommend_for_new_user(categories=["Espresso Bars"])


def _magazine_slice(folder: Path, items: int = 150, min_ratings: int = 3) -> tuple[int, int]:
    """The real magazine files cut to their most rated items and the users with a few ratings of them, in
    the same layout (file names, formats): how many ratings and items."""
    ratings = pd.read_csv(MAGAZINE / RATINGS, header=None, names=["item", "user", "rating", "ts"])
    top = set(ratings["item"].value_counts().index[:items])
    kept = ratings[ratings["item"].isin(top)]
    counts = kept["user"].value_counts()
    kept = kept[kept["user"].isin(counts[counts >= min_ratings].index)]
    folder.mkdir()
    kept.to_csv(folder / RATINGS, header=False, index=False)
    wanted = set(kept["item"])
    with gzip.open(MAGAZINE / META, "rt", encoding="utf-8") as src, gzip.open(folder / META, "wt") as dst:
        for line in src:
            if json.loads(line)["asin"] in wanted:
                dst.write(line)
    return len(kept), len(wanted)


@pytest.mark.skipif(not MAGAZINE.exists(), reason="shared magazine data not present")
def test_demo_runs_on_the_magazine_files(store: GraphStore, cli_env: Settings, tmp_path: Path) -> None:
    """``kgrec demo --magazine FOLDER`` on a slice of the real files (the whole set trains for minutes)."""
    n_ratings, n_items = _magazine_slice(tmp_path / "magazine")
    report = tmp_path / "magazine.html"
    result = CliRunner().invoke(
        app, ["demo", "--magazine", str(tmp_path / "magazine"), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "recommendations for " in out and out.count("why ") == 3 and "ranking on the test split" in out
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    stats = store.stats()
    assert stats.nodes["Item"] >= n_items and stats.relationships["RATED"] == n_ratings - _duplicates(
        tmp_path
    )
    assert stats.nodes["Brand"] > 10 and stats.nodes["Category"] > 10  # publishers and the category tree
    sample = out.split("recommendations for ", 1)[1].split()[0]
    assert sample == store.top_raters(1)[0]  # the busiest reader, as the README says of the demo


def _duplicates(tmp_path: Path) -> int:
    """Repeated (user, item) pairs in the slice: a load keeps the latest of each."""
    ratings = pd.read_csv(tmp_path / "magazine" / RATINGS, header=None, names=["item", "user", "r", "ts"])
    return int(ratings.duplicated(["item", "user"]).sum())
