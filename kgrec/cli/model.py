"""``kgrec train``, ``kgrec predict`` and ``kgrec evaluate``: the rating model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from kgrec.cli.output import JsonFlag, emit_json, fail, out, progress_bar, scores_table
from kgrec.cli.session import open_recommender, settings_of
from loaders import read_pairs, read_table

__all__ = ["evaluate", "predict", "train"]


def train(
    ctx: typer.Context,
    split: Annotated[
        str, typer.Option(help="random (80/10/10) or temporal (each user's latest held out)")
    ] = "random",
    seed: Annotated[int, typer.Option(help="seed of the split and the training")] = 0,
    model_dir: Annotated[
        Path | None, typer.Option(help="where to save the model (default: the workspace's)")
    ] = None,
    text: Annotated[
        bool, typer.Option("--text/--no-text", help="item text embeddings when available")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Train the rating model on the graph now in Neo4j; print validation and test RMSE/MAE."""
    from gnn import TrainConfig  # torch loads only for the commands that need the model

    if split not in ("random", "temporal"):
        fail(f"--split must be random or temporal, got {split!r}")
    settings = settings_of(ctx)
    if model_dir is not None:
        settings = settings.model_copy(update={"model_dir": model_dir})
    kind: Literal["random", "temporal"] = "temporal" if split == "temporal" else "random"
    config = TrainConfig(split=kind, seed=seed, text=text)
    with (
        open_recommender(settings, quiet=as_json, need_model=False) as rec,
        progress_bar(as_json) as progress,
    ):
        metrics = rec.fit(config, progress=progress)
    if as_json:
        emit_json(metrics.model_dump())
        return
    out.print(scores_table("validation", metrics.val))
    out.print(scores_table("test", metrics.test))
    out.print(f"model saved to {settings.model_path}; embeddings written to Neo4j")


def predict(
    ctx: typer.Context,
    input: Annotated[Path, typer.Option("--input", help="CSV/TSV of user,item pairs (header optional)")],
    output: Annotated[Path, typer.Option("--out", help="CSV to write: user,item,prediction")],
) -> None:
    """Score (user, item) pairs with the trained model."""
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
    """RMSE and MAE of the trained model on a ratings file (unseen users and items allowed)."""
    from gnn import mae, rmse

    frame = read_table(ratings).ratings
    with open_recommender(settings_of(ctx), quiet=as_json) as rec:
        predicted = rec.predict_pairs(frame[["user", "item"]])
        cold = rec.trained_model().cold_start(frame[["user", "item"]])
    truth = frame["rating"].to_numpy(dtype=float)
    payload = {
        "ratings": len(frame),
        "rmse": rmse(predicted, truth),
        "mae": mae(predicted, truth),
        "cold_start": cold.model_dump(),
    }
    if as_json:
        emit_json(payload)
    else:
        out.print(
            f"{len(frame):,} ratings: RMSE {payload['rmse']:.4f}  MAE {payload['mae']:.4f}  "
            f"(cold users {cold.cold_users}, cold items {cold.cold_items})"
        )
