"""``Recommender.fit`` holds out by ``TrainConfig.split`` when it is not told a split (issue 23: the config's
split was ignored, the argument's default ``"random"`` taken instead)."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from gnn import TrainConfig
from kg import GraphStore
from kgrec import Recommender
from loaders.demo import demo_dataset
from rank import RankConfig

SMALL_RANK = RankConfig(candidates=20, fusion_users=40, trees=20, seed=0)
TEMPORAL = TrainConfig(
    split="temporal", seed=0, text=False, max_epochs=5, mf_epochs=5, patience=3, bias_epochs=2
)


def test_fit_holds_out_by_the_configs_split(
    session_store: GraphStore, neo4j_settings: Settings, tmp_path: Path
) -> None:
    session_store.reset()
    dataset, _ = demo_dataset(n_users=40, n_items=40, ratings_per_user=10, seed=5)
    rec = Recommender(session_store, neo4j_settings.model_copy(update={"model_dir": tmp_path / "model"}))
    rec.load_dataset(dataset)
    assert rec.fit(TEMPORAL, SMALL_RANK, search_pairs=0).split == "temporal"
