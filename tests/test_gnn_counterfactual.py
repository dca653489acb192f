"""The fast counterfactual (only the nodes a removal changes are recomputed) against the slow one (a whole
encoder pass over the graph without the edges), on generated graphs; no Neo4j."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from core.errors import ModelError
from gnn import RATED_EDGE, TrainConfig, Trainer, planted_export, to_hetero_data
from gnn.counterfactual import EdgeRemovalEncoder
from gnn.graph import drop_edges, message_graph
from gnn.model import RatingNet


@pytest.fixture(scope="module")
def graph():
    export, _ = planted_export(
        num_users=40, items_per_brand=6, ratings_per_user=8, cold_items_per_brand=1, seed=3
    )
    full, _ = to_hetero_data(export)
    users, items = full[RATED_EDGE].edge_index.numpy()
    graph = message_graph(full, users, items)
    # features on one type, so the projected-input path is exercised too
    graph["item"].x = torch.randn(graph["item"].num_nodes, 3, generator=torch.Generator().manual_seed(0))
    # a hub: every item in category 0, the shape that made whole-subgraph counterfactuals slow
    hub = ("item", "in_category", "category")
    n_items = graph["item"].num_nodes
    extra = torch.stack([torch.arange(n_items), torch.zeros(n_items, dtype=torch.long)])
    graph[hub].edge_index = torch.unique(torch.cat([graph[hub].edge_index, extra], 1), dim=1)
    graph["category", "rev_in_category", "item"].edge_index = graph[hub].edge_index.flip(0)
    return graph


def _removals(graph, user: int, item: int, rng: np.random.Generator) -> list[dict]:
    """Removals near the pair (its own edges, a hub's edge, a same-type relation) and far from it."""
    rated = graph[RATED_EDGE].edge_index
    mine = rated[:, rated[0] == user]
    raters = rated[:, rated[1] == item]
    pick = lambda ei: tuple(ei[:, [int(rng.integers(ei.shape[1]))]].tolist())  # noqa: E731
    removals: list[dict] = [
        {},
        {RATED_EDGE: tuple(mine[:, :2].tolist())},
        {RATED_EDGE: tuple(raters[:, :1].tolist()), ("item", "in_category", "category"): ([item], [0])},
        {("item", "in_category", "category"): pick(graph["item", "in_category", "category"].edge_index)},
        {("item", "made_by", "brand"): pick(graph["item", "made_by", "brand"].edge_index)},
        {RATED_EDGE: ([user], [item])},  # not an edge: nothing changes
    ]
    if ("category", "subcategory_of", "category") in graph.edge_types:
        removals.append(
            {
                ("category", "subcategory_of", "category"): pick(
                    graph["category", "subcategory_of", "category"].edge_index
                )
            }
        )
    for _ in range(4):
        removals.append(
            {
                RATED_EDGE: pick(rated),
                ("item", "made_by", "brand"): pick(graph["item", "made_by", "brand"].edge_index),
            }
        )
    return removals


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("hub_degree", [1, 6, 10**9])  # every node a hub (its sum corrected), some, none
def test_removal_encoder_equals_a_whole_graph_pass(graph, layers, hub_degree):
    torch.manual_seed(layers)
    net = RatingNet.for_graph(graph, TrainConfig(hidden=8, layers=layers, num_neighbors=[5] * layers), mu=3.5)
    net.eval()
    enc = EdgeRemovalEncoder(net, graph, hub_degree=hub_degree)

    def whole(g):
        with torch.no_grad():
            return net.encode_graph(g)

    intact = whole(graph)
    for t, z in intact.items():
        assert torch.allclose(enc.states[-1][t], z, atol=1e-5)  # the layer-by-layer pass is the encoder's
    rng = np.random.default_rng(layers)
    rated = graph[RATED_EDGE].edge_index
    for user, item in [(int(rated[0, 0]), int(rated[1, 5])), (3, 0), (int(rated[0, -1]), 1)]:
        removals = _removals(graph, user, item, rng)
        z_user, z_item = enc.pair(user, item, removals)
        for k, removal in enumerate(removals):
            z = whole(drop_edges(graph, removal))
            assert torch.allclose(z_user[k], z["user"][user], atol=1e-5), (layers, user, item, k)
            assert torch.allclose(z_item[k], z["item"][item], atol=1e-5), (layers, user, item, k)
        assert not torch.allclose(z_user[1], z_user[0])  # the user's own ratings matter


def test_removal_encoder_rejects_unknown_edge_types(graph):
    net = RatingNet.for_graph(graph, TrainConfig(hidden=8), mu=3.5)
    with pytest.raises(ModelError, match="cannot drop"):
        EdgeRemovalEncoder(net, graph).pair(0, 0, [{("user", "likes", "item"): ([0], [0])}])


def test_predict_without_equals_predict_with_drop_edges():
    export, _ = planted_export(
        num_users=30, items_per_brand=5, ratings_per_user=8, cold_items_per_brand=1, seed=2
    )
    model = Trainer(TrainConfig(hidden=8, max_epochs=5, mf_epochs=5, text=False, seed=0)).fit(export).model
    rng = np.random.default_rng(0)
    ids = model.id_map
    rated = model.graph[RATED_EDGE].edge_index
    for user, item in [(int(rated[0, 0]), int(rated[1, 3])), (int(rated[0, 40]), 0)]:
        removals = _removals(model.graph, user, item, rng)
        u, i = ids.keys("user")[user], ids.keys("item")[item]
        pair = pd.DataFrame({"user": [u], "item": [i]})
        slow = [model.predict(pair, drop_edges=r)[0] for r in removals]
        assert model.predict_without(u, i, removals) == pytest.approx(slow, abs=1e-5)
    # a pair served by the bias fallback has no GNN part: every removal leaves it as it is
    item = ids.keys("item")[0]
    fallback = model.predict(pd.DataFrame({"user": ["stranger"], "item": [item]}))[0]
    assert model.predict_without("stranger", item, [{}, removals[1]]) == pytest.approx([fallback] * 2)
