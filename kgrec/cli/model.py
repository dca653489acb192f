"""``kgrec train``, ``kgrec predict`` and ``kgrec evaluate``: the rating model and the ranker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from kgrec.cli.output import (
    JsonFlag,
    emit_json,
    fail,
    importance_table,
    out,
    progress_bar,
    ranking_tables,
    scores_table,
)
from kgrec.cli.session import open_recommender, settings_of
from kgrec.search_eval import evaluate_search as evaluate_search_on
from loaders import read_pairs, read_table
from rank.search_queries import QUERY_TYPES

__all__ = ["evaluate", "predict", "train"]


def train(
    ctx: typer.Context,
    split: Annotated[
        str, typer.Option(help="random (per user, at random) or temporal (each user's latest held out)")
    ] = "random",
    holdout: Annotated[float, typer.Option(help="share of each user's ratings held out for the test")] = 0.2,
    seed: Annotated[int, typer.Option(help="seed of the split and the training")] = 0,
    model_dir: Annotated[
        Path | None, typer.Option(help="where to save the models (default: the workspace's)")
    ] = None,
    text: Annotated[
        bool, typer.Option("--text/--no-text", help="item text embeddings when available")
    ] = True,
    test_ratings: Annotated[
        Path | None,
        typer.Option(
            help="your own test ratings (any layout `kgrec load table` reads): train on every loaded rating "
            "but a validation slice, measure on this file (--holdout is then unused)"
        ),
    ] = None,
    device: Annotated[
        str, typer.Option(help="where torch trains: auto (CUDA when torch sees a GPU), cpu or cuda")
    ] = "auto",
    nproc: Annotated[
        int,
        typer.Option(
            help="training processes: above 1, the GNNs train data-parallel (torch.distributed, launched as "
            "torchrun does) from one export of the graph"
        ),
    ] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Train the rating model and the ranker on the graph now in Neo4j; print rating metrics (validation and
    test RMSE/MAE) and ranking metrics at 10 and 20 of the fusion and each part on the test split (or on
    --test-ratings). The rating counts (train, validation, test) are in the output and in --json."""
    from gnn import TrainConfig, resolve_device  # torch loads only for the commands that need the model

    if split not in ("random", "temporal"):
        fail(f"--split must be random or temporal, got {split!r}")
    if not 0.0 < holdout < 1.0:
        fail(f"--holdout must be between 0 and 1, got {holdout}")
    resolve_device(device)  # an unknown name, or cuda without a GPU: one line now, not after the export
    if nproc < 1:
        fail(f"--nproc must be at least 1, got {nproc}")
    settings = settings_of(ctx)
    if model_dir is not None:
        settings = settings.model_copy(update={"model_dir": model_dir})
    kind: Literal["random", "temporal"] = "temporal" if split == "temporal" else "random"
    config = TrainConfig.model_validate({"split": kind, "seed": seed, "text": text, "device": device})
    test = read_table(test_ratings).ratings if test_ratings is not None else None
    with (
        open_recommender(settings, quiet=as_json, need_model=False) as rec,
        progress_bar(as_json) as progress,
    ):
        result = rec.fit(
            config, split=kind, holdout=holdout, progress=progress, test_ratings=test, nproc=nproc
        )
    if as_json:
        emit_json(result.model_dump())
        return
    counts = result.rating.ratings
    overlap = (
        f"; {result.test_overlap:,} loaded ratings left out (in the test file)" if result.test_overlap else ""
    )
    out.print(
        f"ratings: train {counts.get('train', 0):,}, validation {counts.get('val', 0):,}, "
        f"test {counts.get('test', 0):,}{' (the test file)' if result.given_test else ''}{overlap}"
    )
    out.print(scores_table("rating: validation", result.rating.val))
    out.print(scores_table("rating: test", result.rating.test))
    for table in ranking_tables(
        "ranking on the test file" if result.given_test else f"ranking on the test split ({split})",
        {"fusion": result.ranking} | result.parts,
    ):
        out.print(table)
    out.print(importance_table(result.fusion.importances))
    out.print(f"models saved to {settings.model_path}; embeddings written to Neo4j")


def predict(
    ctx: typer.Context,
    input: Annotated[Path, typer.Option("--input", help="CSV/TSV of user,item pairs (header optional)")],
    output: Annotated[Path, typer.Option("--out", help="CSV to write: user,item,prediction")],
) -> None:
    """Score (user, item) pairs with the trained rating model."""
    pairs = read_pairs(input)
    with open_recommender(settings_of(ctx)) as rec:
        predicted = rec.predict_pairs(pairs)
    pairs.assign(prediction=predicted).to_csv(output, index=False)
    out.print(f"wrote {len(pairs):,} predictions to {output}")


def evaluate(
    ctx: typer.Context,
    ratings: Annotated[Path, typer.Option(help="ratings file in any layout `kgrec load table` reads")],
    as_json: JsonFlag = False,
) -> None:
    """Both models on a ratings file (unseen users and items allowed): RMSE and MAE of the rating model, and
    ranking metrics at 10 and 20 of the fused ranking with the file's pairs as what each user took."""
    frame = read_table(ratings).ratings
    with open_recommender(settings_of(ctx), quiet=as_json) as rec:
        result = rec.evaluate(frame)
    if as_json:
        emit_json(result.model_dump())
        return
    cold = result.cold_start
    out.print(
        f"{result.ratings:,} ratings: RMSE {result.rmse:.4f}  MAE {result.mae:.4f}  "
        f"(cold users {cold.cold_users}, cold items {cold.cold_items})"
    )
    ranking = result.ranking
    out.print(
        f"ranking: {ranking.users:,} users evaluated, {ranking.skipped_users:,} without a catalogue item"
    )
    for table in ranking_tables("fused ranking", {"fusion": ranking}):
        out.print(table)


def evaluate_search(
    ctx: typer.Context,
    ratings: Annotated[
        Path, typer.Option(help="held-out ratings: each (user, item) gives one query per type")
    ],
    k: Annotated[int, typer.Option("--k")] = 10,
    seed: Annotated[int, typer.Option(help="the random choice of title words")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Search measured on held-out pairs (kgrec.search_eval): HitRate, NDCG and MRR at K per query type for
    the search ranker (personal and anonymous) and its peers (text only, most rated of the linked entities,
    the fused category or brand page)."""
    frame = read_table(ratings).ratings
    with open_recommender(settings_of(ctx), quiet=as_json) as rec:
        result = evaluate_search_on(rec, frame, k, seed)
    if as_json:
        emit_json(result.model_dump())
        return
    out.print(f"{result.pairs:,} held-out pairs; MRR@{k} (HitRate@{k}, NDCG@{k}) per query type")
    types = [t for t in QUERY_TYPES if any(t in by_type for by_type in result.metrics.values())]
    table = Table("answered by", *types, title=f"search @{k}")
    for method, by_type in result.metrics.items():
        cells = [by_type.get(t) for t in types]
        table.add_row(
            method, *("-" if m is None else f"{m.mrr:.3f} ({m.hit_rate:.3f}, {m.ndcg:.3f})" for m in cells)
        )
    out.print(table)
