"""Candidate models and the fused ranker on a planted structure: users take items of their own cluster, so a
test knows which unseen items belong at the top."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from core.errors import ModelError
from gnn.lightgcn import LightGCN as Network
from rank import Interactions, Knowledge, RankConfig, Ranker, holdout_split, load_ranker, save_ranker
from rank.checkpoint import FORMAT
from rank.models import MODELS, Context
from rank.models.als import Als, AlsParams
from rank.models.ease import Ease, EaseParams
from rank.models.lightgcn import LightGCN, LightGCNParams
from rank.models.popularity import Popularity, PopularityParams
from rank.models.rp3 import Rp3Beta, Rp3Params

CLUSTERS, PER_CLUSTER, USERS = 3, 20, 240
SMALL = RankConfig(
    candidates=15,
    fusion_users=200,
    params={"lightgcn": {"epochs": 15}, "als": {"iterations": 10}, "ease": {"grid": (10.0, 50.0)}},
)


def _cluster(item: int) -> int:
    return item // PER_CLUSTER


def _planted(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, Knowledge]:
    """Each user takes 8 items of their cluster (popular ones more often) and 1 stray item elsewhere."""
    rng = np.random.default_rng(seed)
    items = np.array([f"i{n:02d}" for n in range(CLUSTERS * PER_CLUSTER)])
    rows = []
    weights = 1.0 / np.arange(1, PER_CLUSTER + 1)
    for u in range(USERS):
        c = u % CLUSTERS
        mine = rng.choice(PER_CLUSTER, 8, replace=False, p=weights / weights.sum()) + c * PER_CLUSTER
        stray = rng.integers(0, CLUSTERS * PER_CLUSTER)
        for n, i in enumerate([*mine, stray]):
            rows.append((f"u{u:03d}", items[i], 5.0, 1_000_000 + 86_400 * n))
    ratings = pd.DataFrame(rows, columns=["user", "item", "rating", "ts"]).drop_duplicates(["user", "item"])
    brand = sp.csr_matrix(
        (np.ones(len(items), np.float32), (np.arange(len(items)), [_cluster(i) for i in range(len(items))]))
    )
    return ratings, items, Knowledge({"MADE_BY": brand}, (np.zeros(0, np.int64), np.zeros(0, np.int64)))


def _own_cluster_share(top: np.ndarray, users: list[str]) -> float:
    hits = [
        _cluster(i) == int(u[1:]) % CLUSTERS for row, u in zip(top, users, strict=True) for i in row if i >= 0
    ]
    return float(np.mean(hits))


@pytest.mark.parametrize("name", ["ease", "als", "lightgcn", "rp3"])
def test_each_personal_model_ranks_the_users_cluster_first(name: str) -> None:
    ratings, items, knowledge = _planted()
    data = Interactions.build(ratings, items)
    model = {
        "ease": Ease(EaseParams(l2=10.0)),
        "als": Als(AlsParams(factors=8, iterations=10)),
        "lightgcn": LightGCN(LightGCNParams(dim=16, epochs=20), Context(knowledge)),
        "rp3": Rp3Beta(),
    }[name].fit(data)
    users = list(data.user_keys[:30])
    rows = data.user_rows(users)
    seen = data.seen(rows)
    scores = np.where(seen.toarray() > 0, -np.inf, model.scores(rows, seen))
    top = np.argsort(-scores, axis=1)[:, :5]
    assert _own_cluster_share(top, users) > 0.9


def test_lightgcn_trains_to_the_same_embeddings_twice_on_two_threads() -> None:
    # unless asked not to, some of torch's parallel CPU kernels sum in the order their threads finish; the
    # leakage test of the fused ranking (test_rank_serving) needs two rankers trained alike to be identical
    ratings, items, knowledge = _planted()
    data = Interactions.build(ratings, items)
    context = Context(knowledge, seed=0, device="cpu")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fits = [LightGCN(LightGCNParams(dim=64, epochs=5), context).fit(data) for _ in range(2)]
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(fits[0].state()["items"], fits[1].state()["items"])
    assert np.array_equal(fits[0].state()["users"], fits[1].state()["users"])


def test_lightgcn_past_its_step_bound_takes_larger_steps_not_more() -> None:
    # 100 pairs in batches of 8 would be 13 steps an epoch; bounded to 3, each step takes ceil(100 / 3)
    rng = np.random.default_rng(0)
    pairs = (rng.integers(0, 20, 100), rng.integers(0, 15, 100))
    knowledge = (np.arange(15), np.arange(15) % 3)

    def fit(**kw: int | None) -> Network:
        return Network(dim=8, epochs=3, seed=0, device="cpu", **kw).fit(pairs, 20, 15, knowledge, 3)

    bounded, larger = fit(batch_size=8, max_steps=3), fit(batch_size=34)
    assert np.array_equal(bounded.item_embeddings, larger.item_embeddings)
    assert bounded.losses == larger.losses
    unbounded = fit(batch_size=8)
    assert not np.array_equal(bounded.item_embeddings, unbounded.item_embeddings)
    # a bound the interactions do not reach changes nothing
    assert np.array_equal(fit(batch_size=8, max_steps=13).item_embeddings, unbounded.item_embeddings)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_scores_the_same_after_save_and_load(name: str, tmp_path: Path) -> None:
    ratings, items, knowledge = _planted()
    data = Interactions.build(ratings, items)
    context = Context(knowledge, seed=0, device="cpu")
    params = SMALL.params_for(name)
    model = MODELS[name](params, context).fit(data)
    assert model.name == name
    rows = np.r_[data.user_rows(list(data.user_keys[:20])), -1]  # known users and a newcomer
    seen = sp.vstack([data.seen(rows[:-1]), data.seen(rows[:1])]).tocsr()
    model.save(tmp_path / f"{name}.npz")
    loaded = MODELS[name].load(tmp_path / f"{name}.npz", params, context)
    assert np.array_equal(model.scores(rows, seen), loaded.scores(rows, seen))


def test_the_config_names_only_registered_models() -> None:
    with pytest.raises(ValueError, match="no candidate model 'nope'"):
        RankConfig(parts=("ease", "nope"))
    with pytest.raises(ValueError, match="iterations"):
        RankConfig(params={"als": {"iterations": 0}})
    with pytest.raises(ValueError, match="extra"):
        RankConfig(params={"ease": {"ridge": 1.0}})
    assert RankConfig(params={"ease": {"l2": 3.0}}).params_for("ease").l2 == 3.0


def test_popularity_weights_recent_interactions_more() -> None:
    day = 86_400
    ratings = pd.DataFrame(
        {
            "user": ["a", "b", "c"],
            "item": ["old", "old", "new"],
            "rating": [5.0] * 3,
            "ts": [day, day, 701 * day],
        }
    )
    data = Interactions.build(ratings)
    plain = Popularity(PopularityParams(half_life_days=float("inf"))).fit(data).item_scores
    recent = Popularity(PopularityParams(half_life_days=100)).fit(data).item_scores
    old, new = data.item_rows(["old", "new"])
    assert plain[old] > plain[new]
    assert recent[new] > recent[old]


def test_ease_with_side_information_links_items_of_one_brand() -> None:
    # nobody took b and c together; they share a brand, so with side information c follows b
    ratings = pd.DataFrame({"user": ["u", "v"], "item": ["b", "d"], "rating": [5.0, 5.0], "ts": [0, 0]})
    data = Interactions.build(ratings, item_keys=["b", "c", "d"])
    side = sp.csr_matrix(np.array([[1], [1], [0]], dtype=np.float32))
    u = data.user_rows(["u"])
    plain = Ease(EaseParams(l2=1.0)).fit(data).scores(u, data.seen(u))[0]
    brand = Context(Knowledge({"MADE_BY": side}, (np.zeros(0, np.int64), np.zeros(0, np.int64))))
    linked = Ease(EaseParams(l2=1.0, side_weight=1.0), brand).fit(data).scores(u, data.seen(u))[0]
    assert plain[1] == pytest.approx(0.0)
    assert linked[1] > 0.0


@pytest.fixture(scope="module")
def trained() -> tuple[Ranker, pd.DataFrame, np.ndarray]:
    ratings, items, knowledge = _planted()
    split = holdout_split(ratings, "random", 0.2, seed=0)
    ranker = Ranker(SMALL)
    ranker.fit(split.train, items, knowledge)
    return ranker, split.test, items


def test_the_fused_ranking_puts_the_users_cluster_first(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray],
) -> None:
    ranker, _, _ = trained
    users = list(ranker.trained_data().user_keys[:60])
    ranked = ranker.rank(users, k=5)
    assert _own_cluster_share(ranked.items, users) > 0.9
    assert (np.diff(ranked.scores, axis=1) <= 0).all()


def test_the_ranker_never_proposes_a_training_item(trained: tuple[Ranker, pd.DataFrame, np.ndarray]) -> None:
    ranker, _, _ = trained
    data = ranker.trained_data()
    users = list(data.user_keys)
    top = ranker.rank(users, k=10).items
    seen = data.seen(data.user_rows(users)).toarray()
    assert not any(seen[u, i] for u in range(len(users)) for i in top[u] if i >= 0)


def test_the_ranker_learns_nothing_from_held_out_interactions(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray],
) -> None:
    ranker, test, _ = trained
    data = ranker.trained_data()
    pairs = set(zip(data.user_keys[data.rows], data.item_keys[data.cols], strict=True))
    held = set(zip(test["user"], test["item"], strict=True))
    assert not pairs & held


def test_a_newcomer_is_ranked_from_the_items_they_took(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray],
) -> None:
    ranker, _, items = trained
    taken = [items[PER_CLUSTER + 1], items[PER_CLUSTER + 2], items[PER_CLUSTER + 3]]  # cluster 1
    ranked = ranker.rank_new(taken, k=5)
    assert all(_cluster(i) == 1 for i in ranked.items[0])
    assert not set(ranked.items[0]) & set(ranker.trained_data().item_rows(taken))


def test_fused_scores_drop_when_the_anchor_is_taken_away(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray],
) -> None:
    ranker, _, items = trained
    cluster1 = [items[PER_CLUSTER + n] for n in range(1, 6)]
    target = items[PER_CLUSTER + 7]
    with_all = ranker.fused_scores("someone", cluster1, [target])[0]
    without = ranker.fused_scores("someone", [items[0]], [target])[0]
    assert with_all > without


def test_fused_scores_listed_are_the_removals_scores_and_the_users_own_list(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray],
) -> None:
    """What an explanation asks in one table: each set's scores of the targets, as fused_scores_many gives
    them, and the first set's own top k besides the targets, as rank_new ranks a newcomer (a user the
    models never saw is one), each listed item scored as fused_scores scores it."""
    ranker, _, items = trained
    cluster1 = [items[PER_CLUSTER + n] for n in range(1, 6)]
    targets = [items[PER_CLUSTER + 7], items[0]]
    takens = [cluster1, cluster1[1:], [items[0]]]
    scores, own = ranker.fused_scores_listed("someone", takens, targets, k=5)
    assert scores == pytest.approx(ranker.fused_scores_many("someone", takens, targets), abs=1e-9)
    keys = ranker.trained_data().item_keys
    listed = [str(keys[c]) for c in own.items[0]]
    newcomer = [str(keys[c]) for c in ranker.rank_new(cluster1, 5 + len(targets)).items[0]]
    assert listed == [i for i in newcomer if i not in targets][:5]
    assert all(_cluster(c) == 1 for c in own.items[0]) and not set(listed) & set(cluster1)
    assert own.scores[0] == pytest.approx(ranker.fused_scores("someone", cluster1, listed), abs=1e-9)


def test_page_scores_are_the_scores_of_a_page_of_those_items(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray],
) -> None:
    ranker, _, items = trained
    data = ranker.trained_data()
    user = str(data.user_keys[4])
    offered = [str(i) for i in items[PER_CLUSTER : 3 * PER_CLUSTER : 3] if i not in _seen_by(ranker, user)]
    allowed = np.isin(np.arange(data.n_items), data.item_rows(offered))
    page = ranker.rank([user], k=len(offered), allowed=allowed)
    listed = dict(zip(data.item_keys[page.items[0]], page.scores[0], strict=True))
    assert np.allclose(ranker.page_scores(user, offered), [listed[i] for i in offered])
    # given the items taken, a user is placed from them as a newcomer is, on the same page
    taken = [str(items[n]) for n in range(1, 6)]
    new = ranker.rank_new(taken, k=len(offered), allowed=allowed)
    placed = dict(zip(data.item_keys[new.items[0]], new.scores[0], strict=True))
    assert np.allclose(ranker.page_scores("someone", offered, taken), [placed[i] for i in offered])
    assert not np.allclose(ranker.page_scores(user, offered), ranker.page_scores(user, offered, taken))


def _seen_by(ranker: Ranker, user: str) -> set[str]:
    data = ranker.trained_data()
    row = data.user_rows([user])
    return {str(data.item_keys[c]) for c in data.seen(row).indices}


def test_a_checkpoint_ranks_as_the_trained_ranker(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    ranker, _, _ = trained
    users = list(ranker.trained_data().user_keys[:40])
    before = ranker.rank(users, k=8)
    loaded = load_ranker(save_ranker(ranker, tmp_path / "ranker"))
    after = loaded.rank(users, k=8)
    assert np.array_equal(before.items, after.items)
    assert np.allclose(before.scores, after.scores)


def test_a_garbled_ranker_is_one_model_error(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    folder = save_ranker(trained[0], tmp_path / "ranker")
    (folder / "ranker.npz").write_bytes(b"PK\x03\x04 not an archive")
    with pytest.raises(ModelError, match="train again"):
        load_ranker(folder)
    folder = save_ranker(trained[0], tmp_path / "ranker")
    (folder / "fusion.txt").write_text("tree\nnot a model\n")
    with pytest.raises(ModelError, match="train again"):
        load_ranker(folder)


def test_a_ranker_of_an_older_format_is_refused_in_one_line(
    trained: tuple[Ranker, pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    folder = save_ranker(trained[0], tmp_path / "ranker")
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps(meta | {"format": FORMAT - 1}))
    with pytest.raises(
        ModelError, match=f"ranker format {FORMAT - 1}, this kgrec reads {FORMAT}; train again"
    ):
        load_ranker(folder)


def test_a_ranker_fuses_only_the_parts_its_config_names(tmp_path: Path) -> None:
    ratings, items, knowledge = _planted()
    ranker = Ranker(SMALL.model_copy(update={"parts": ("popularity", "rp3")}))
    ranker.fit(holdout_split(ratings, "random", 0.2, seed=0).train, items, knowledge)
    assert list(ranker.parts) == ["popularity", "rp3"]
    assert [f for f in ranker.features if f.endswith(("_score", "_rank"))] == [
        "popularity_score",
        "popularity_rank",
        "rp3_score",
        "rp3_rank",
    ]
    loaded = load_ranker(save_ranker(ranker, tmp_path / "ranker"))
    assert sorted(p.name for p in (tmp_path / "ranker" / "parts").iterdir()) == ["popularity.npz", "rp3.npz"]
    users = list(ranker.trained_data().user_keys[:10])
    assert np.array_equal(ranker.rank(users, k=5).items, loaded.rank(users, k=5).items)


def test_a_folder_without_a_ranker_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="train again"):
        load_ranker(tmp_path)
    with pytest.raises(ModelError, match="not trained"):
        Ranker().rank(["u"], 5)


def test_rp3_keeps_each_items_strongest_neighbours_and_penalises_popular_ones() -> None:
    # a and b are taken together twice; b is also taken by 8 others (popular), c by one of a's users only
    rows = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u2", "c")]
    rows += [(f"p{n}", "b") for n in range(8)] + [("p0", "d")]
    ratings = pd.DataFrame(rows, columns=["user", "item"]).assign(rating=5.0, ts=0)
    data = Interactions.build(ratings)
    col = {str(k): n for n, k in enumerate(data.item_keys)}
    newcomer = sp.csr_matrix(([1.0], ([0], [col["a"]])), shape=(1, data.n_items))
    plain = Rp3Beta(Rp3Params(alpha=1.0, beta=0.0)).fit(data).scores(np.array([-1]), newcomer)[0]
    penalised = Rp3Beta(Rp3Params(alpha=1.0, beta=1.0)).fit(data).scores(np.array([-1]), newcomer)[0]
    assert plain[col["b"]] > plain[col["c"]] > 0 and plain[col["d"]] == 0  # d is three steps from a
    assert penalised[col["c"]] > penalised[col["b"]]  # b's popularity outweighs its co-interactions
    one = Rp3Beta(Rp3Params(alpha=1.0, beta=0.0, neighbours=1)).fit(data)
    assert np.diff(one.weights.indptr).max() == 1 and one.weights[col["a"], col["b"]] > 0


def test_als_fits_without_implicits_blas_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """implicit warns once per process, from its constructor, when BLAS may use more than one thread."""
    import implicit.utils
    from threadpoolctl import threadpool_limits

    ratings, items, _ = _planted()
    data = Interactions.build(ratings, items)
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with threadpool_limits(2, "blas"), warnings.catch_warnings():
        warnings.simplefilter("error")
        Als(AlsParams(factors=4, iterations=2)).fit(data)
