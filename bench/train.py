"""Train kgrec's rating model on amazon-hin and measure it against the classic peers in the same run.

Prints test RMSE/MAE (and validation RMSE) for the global mean, the bias baseline, SVD++ (scikit-surprise
defaults), and the MF part, GNN part and blend of kgrec, on one random 80/10/10 split, with times; then one
JSON line with the same figures.

Usage::

    python bench/train.py [--data ../shared/data/amazon-hin] [--seed 0] [--split random|temporal]
                          [--model-dir DIR] [--peer-early-stop]

For now the graph export is built straight from the ``.dat`` files (``amazon_hin_export``); the Neo4j
export path will replace it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout without `pip install -e`
    sys.path.insert(0, str(REPO))

from core.schema import Schema  # noqa: E402
from gnn import BiasBaseline, GlobalMean, SVDpp, TrainConfig, Trainer, mae, rmse, split_ratings  # noqa: E402
from kg.export import GraphExport  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "amazon-hin"


def amazon_hin_export(folder: Path) -> GraphExport:
    """The amazon-hin files as a :class:`GraphExport` (schema: core plus the ``View`` entity).

    ``user_item.dat`` (TAB: user, item, rating, unix ts) gives ``RATED``; ``item_brand.dat``,
    ``item_category.dat`` and ``item_view.dat`` (comma: item, other) give ``MADE_BY``, ``IN_CATEGORY``
    (categories at depth 0) and ``HAS_VIEW``.
    """
    schema = Schema.core().with_entity("View")
    ratings = pd.read_csv(
        folder / "user_item.dat",
        sep="\t",
        header=None,
        names=["source", "target", "rating", "ts"],
        dtype={"source": "str", "target": "str", "rating": "float64", "ts": "int64"},
    )

    def links(name: str) -> pd.DataFrame:
        return pd.read_csv(folder / name, sep=",", header=None, names=["source", "target"], dtype=str)

    brand, category, view = links("item_brand.dat"), links("item_category.dat"), links("item_view.dat")

    def keys(*columns: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"key": pd.unique(pd.concat(columns, ignore_index=True))})

    items = keys(ratings["target"], brand["source"], category["source"], view["source"])
    nodes = {
        "User": keys(ratings["source"]),
        "Item": items.assign(title=None, description=None, price=float("nan")),
        "Brand": keys(brand["target"]),
        "Category": keys(category["target"]).assign(depth=0),
        "View": keys(view["target"]),
    }
    empty = pd.DataFrame({"source": pd.Series(dtype=str), "target": pd.Series(dtype=str)})
    edges = {rel.type: empty for rel in schema.rel_types}
    edges.update({"RATED": ratings, "MADE_BY": brand, "IN_CATEGORY": category, "HAS_VIEW": view})
    return GraphExport(schema, nodes, edges)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=["random", "temporal"], default="random")
    parser.add_argument("--model-dir", type=Path, default=None, help="save the trained model here")
    parser.add_argument(
        "--peer-early-stop", action="store_true", help="also run SVD++ early-stopped on validation RMSE"
    )
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    export = amazon_hin_export(args.data)
    split = split_ratings(export.edges["RATED"], args.split, args.seed, (0.8, 0.1, 0.1))
    load_s = time.perf_counter() - t0
    val, test = split.val, split.test
    rows: dict[str, dict[str, float]] = {}

    def measure(name: str, model: object, seconds: float) -> None:
        predict = model.predict  # type: ignore[attr-defined]
        rows[name] = {
            "val_rmse": rmse(predict(val), val["rating"].to_numpy()),
            "rmse": rmse(predict(test), test["rating"].to_numpy()),
            "mae": mae(predict(test), test["rating"].to_numpy()),
            "seconds": seconds,
        }

    for name, peer in (("global_mean", GlobalMean()), ("bias_baseline", BiasBaseline()), ("svdpp", SVDpp())):
        t = time.perf_counter()
        peer.fit(split.train)  # type: ignore[attr-defined]
        measure(name, peer, time.perf_counter() - t)
        print(f"  {name} done in {rows[name]['seconds']:.1f}s", file=sys.stderr, flush=True)
    if args.peer_early_stop:
        t = time.perf_counter()
        stopped = SVDpp(epochs=100, patience=3, seed=args.seed).fit(split.train, val)
        measure("svdpp_early_stop", stopped, time.perf_counter() - t)

    def progress(stage: str, step: int, total: int) -> None:
        if step == total or step % 25 == 0:
            print(
                f"  kgrec {stage} {step}/{total} {time.perf_counter() - t:.0f}s", file=sys.stderr, flush=True
            )

    t = time.perf_counter()
    result = Trainer(TrainConfig(seed=args.seed, split=args.split)).fit(export, split, progress=progress)
    train_s = time.perf_counter() - t
    metrics = result.metrics
    for part, name in (("mf", "kgrec_mf"), ("gnn", "kgrec_gnn"), ("blend", "kgrec_blend")):
        rows[name] = {
            "val_rmse": metrics.val[part].rmse,
            "rmse": metrics.test[part].rmse,
            "mae": metrics.test[part].mae,
            "seconds": metrics.seconds.get(part, train_s),
        }
    rows["kgrec_blend"]["seconds"] = train_s
    if args.model_dir is not None:
        result.model.save(args.model_dir)

    print(
        f"amazon-hin, {args.split} split 80/10/10, seed {args.seed}: {len(split.train)} train, "
        f"{len(val)} val, {len(test)} test ratings (load + split {load_s:.1f}s)"
    )
    print(f"{'model':<18}{'val RMSE':>10}{'test RMSE':>11}{'test MAE':>10}{'seconds':>9}")
    for name, r in rows.items():
        print(f"{name:<18}{r['val_rmse']:>10.4f}{r['rmse']:>11.4f}{r['mae']:>10.4f}{r['seconds']:>9.1f}")
    ratio = rows["kgrec_blend"]["rmse"] / rows["svdpp"]["rmse"]
    print(
        f"blend / SVD++ test RMSE: {ratio:.4f}; GNN epochs {metrics.epochs['gnn']}, MF epochs "
        f"{metrics.epochs['mf']}; blend weights {metrics.blend.model_dump()}"
    )
    print(f"cold start on test: {metrics.cold_start_test.model_dump()}")
    record = {
        "dataset": "amazon-hin",
        "split": args.split,
        "seed": args.seed,
        "ratings": metrics.ratings,
        "models": rows,
        "blend_over_svdpp": ratio,
        "blend_weights": metrics.blend.model_dump(),
        "epochs": metrics.epochs,
        "kgrec_seconds": {**metrics.seconds, "total": train_s},
        "cold_start_test": metrics.cold_start_test.model_dump(),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
