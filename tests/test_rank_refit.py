"""The ranker's last fit, on every training interaction, starts each model from its previous fit where the
model can (``CandidateModel.refit``): fewer passes, from where the last fit ended."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn.lightgcn import LightGCN as Network
from rank import Interactions, RankConfig, Ranker
from rank.models.als import Als, AlsParams
from tests.test_rank_models import _planted


def _halves() -> tuple[Interactions, Interactions]:
    """The planted interactions without a tenth of them, and all of them, over the same users and items."""
    ratings, items, _ = _planted()
    users = pd.unique(ratings["user"])
    part = ratings.sample(frac=0.9, random_state=0)
    return Interactions.build(part, items, users), Interactions.build(ratings, items, users)


def test_an_als_refit_continues_the_last_fits_iterations() -> None:
    # implicit's solver steps from the factors it is given, so ten iterations then a refit of a fifth of
    # them (two) are twelve iterations on the same data
    _, data = _halves()
    warm = Als(AlsParams(factors=8, iterations=10, refit_share=0.2)).fit(data).refit(data)
    straight = Als(AlsParams(factors=8, iterations=12)).fit(data)
    np.testing.assert_allclose(warm.item_factors, straight.item_factors, rtol=1e-4, atol=1e-5)
    fewer = Als(AlsParams(factors=8, iterations=10)).fit(data)
    assert not np.allclose(warm.item_factors, fewer.item_factors, rtol=1e-4, atol=1e-5)


def test_an_als_refit_over_other_users_fits_from_scratch() -> None:
    _, data = _halves()
    ratings, items, _ = _planted()
    fewer_users = Interactions.build(ratings[ratings["user"] < "u100"], items)
    model = Als(AlsParams(factors=8, iterations=6, refit_share=0.5)).fit(fewer_users).refit(data)
    np.testing.assert_allclose(
        model.item_factors, Als(AlsParams(factors=8, iterations=6)).fit(data).item_factors, rtol=1e-5
    )


def test_a_warm_lightgcn_fit_starts_where_the_last_one_ended() -> None:
    part, data = _halves()
    ratings, catalogue, knowledge = _planted()
    items, nodes, n_nodes = knowledge.entity_pairs()

    def fit(network: Network, on: Interactions, warm: int | None = None) -> Network:
        return network.fit(
            (on.rows, on.cols), on.n_users, on.n_items, (items, nodes), n_nodes, warm_epochs=warm
        )

    network = fit(Network(dim=16, epochs=8, seed=0, device="cpu"), part)
    trained_loss = network.losses[-1]
    fit(network, data, warm=2)
    assert len(network.losses) == 2
    cold = fit(Network(dim=16, epochs=8, seed=0, device="cpu"), data)
    # warm, its first epoch is already near where eight epochs on most of the data ended; cold is not
    assert network.losses[0] < cold.losses[0]
    assert network.losses[0] < 1.5 * trained_loss
    # over other nodes there is nothing to start from: a cold fit of ``epochs``
    fewer = Interactions.build(ratings[ratings["user"] < "u100"], catalogue)
    assert len(fit(network, fewer, warm=2).losses) == 8


def test_the_rankers_last_fit_is_warm() -> None:
    ratings, items, knowledge = _planted()
    config = RankConfig(
        candidates=15,
        fusion_users=100,
        fusion_draws=1,
        parts=("als", "lightgcn"),
        params={"lightgcn": {"epochs": 10, "refit_share": 0.3}, "als": {"iterations": 10}},
    )
    ranker = Ranker(config)
    report = ranker.fit(ratings, items, knowledge)
    lightgcn = ranker.parts["lightgcn"]
    assert len(lightgcn.network.losses) == 3  # type: ignore[attr-defined]
    assert report.train_interactions == len(ratings)
