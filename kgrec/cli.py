"""The ``kgrec`` command line: thin wrappers that build settings, call the packages and render results."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import KGRecError, LoadError
from core.settings import Settings
from kg import GraphStore, ManagedNeo4j

if TYPE_CHECKING:
    from kgrec.recommender import Recommender
from loaders import Dataset, ErrorBudget, read_amazon2018, read_hin, read_movielens, read_table

app = typer.Typer(help="kgrec: knowledge-graph recommendations from a real Neo4j.", no_args_is_help=True)
neo4j_app = typer.Typer(help="Run the workspace's own Neo4j server.", no_args_is_help=True)
load_app = typer.Typer(help="Load a dataset into the graph (validated; a bad file leaves nothing behind).",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(load_app, name="load")

out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
MaxBad = Annotated[
    float, typer.Option("--max-bad", help="Share of bad rows tolerated before the load fails.")
]


class _State:
    settings: Settings = Settings.model_construct()


@app.callback()
def main(
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace", "-w", envvar="KGREC_WORKSPACE", help="Dataset workspace: each has its own graph."
        ),  # fmt: skip
    ] = None,
) -> None:
    """kgrec: knowledge-graph recommendations from a real Neo4j."""
    _State.settings = _guard(lambda: Settings(workspace=workspace) if workspace else Settings())


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _guard(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except KGRecError as e:
        _fail(str(e))
    except ValueError as e:  # pydantic settings validation
        _fail(str(e).splitlines()[0] if "\n" not in str(e) else " ".join(str(e).split()))


def _emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


@contextmanager
def _store(quiet: bool = False) -> Iterator[GraphStore]:
    def note(message: str, done: int = 0, total: int = 0) -> None:
        if not quiet:
            err.print(f"[dim]{message}[/dim]")

    store = _guard(lambda: GraphStore.connect(_State.settings, progress=note))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _bar(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    if quiet:
        yield None
        return
    with Progress(TextColumn("{task.description:>14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:  # fmt: skip
        tasks: dict[str, Any] = {}

        def update(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = progress.add_task(step, total=total)
            progress.update(tasks[step], completed=done, total=total)

        yield update


@app.command()
def setup() -> None:
    """Fetch what kgrec runs on (the Neo4j jars) unless already there. Quick when done before."""
    server = ManagedNeo4j(_State.settings)
    if server.installed():
        err.print(f"[dim]Neo4j {_State.settings.neo4j_version} jars present in {server.install_dir}[/dim]")
        return
    _guard(lambda: server.install(progress=lambda m, _d, _t: err.print(f"[dim]{m}[/dim]")))
    err.print(f"Neo4j {_State.settings.neo4j_version} installed in {server.install_dir}")


# -- neo4j ------------------------------------------------------------------------------------------------
@neo4j_app.command("start")
def neo4j_start() -> None:
    """Start the workspace's Neo4j (fetching it with mvn the first time)."""
    if _State.settings.neo4j.uri:
        out.print(f"NEO4J_URI is set: kgrec uses {_State.settings.neo4j.uri}; no local server started.")
        return
    uri = _guard(lambda: ManagedNeo4j(_State.settings).start(progress=lambda m, _d, _t: err.print(f"[dim]{m}[/dim]")))
    out.print(f"Neo4j is running at {uri} (workspace {_State.settings.workspace})")


@neo4j_app.command("stop")
def neo4j_stop() -> None:
    """Stop the workspace's Neo4j."""
    if _State.settings.neo4j.uri:
        out.print(f"NEO4J_URI is set ({_State.settings.neo4j.uri}); kgrec does not manage that server.")
        return
    stopped = _guard(lambda: ManagedNeo4j(_State.settings).stop())
    out.print("Neo4j stopped." if stopped else "Neo4j was not running.")


@neo4j_app.command("status")
def neo4j_status(as_json: JsonFlag = False) -> None:
    """Print the URI and whether the server answers."""
    settings = _State.settings
    if settings.neo4j.uri:
        with _store(quiet=True):
            payload = {"uri": settings.neo4j.uri, "managed": False, "answers": True}
    else:
        status = ManagedNeo4j(settings).status()
        payload = {"uri": status.uri, "managed": True, "running": status.running, "answers": status.answers,
                   "pid": status.pid, "workspace": settings.workspace, "plugins": list(status.plugins)}  # fmt: skip
    if as_json:
        _emit_json(payload)
    elif payload.get("uri"):
        out.print(f"{payload['uri']}  answers: {'yes' if payload['answers'] else 'no'}")
    else:
        out.print(f"not running (workspace {settings.workspace}); start it with: kgrec neo4j start")


# -- load -------------------------------------------------------------------------------------------------
def _load(read: Callable[[], Dataset], as_json: bool) -> None:
    try:
        dataset = read()
    except LoadError as e:
        if as_json and e.report is not None:
            _emit_json(e.report.model_dump())  # type: ignore[attr-defined]
        _fail(str(e))
    except KGRecError as e:
        _fail(str(e))
    with _store(quiet=as_json) as store, _bar(as_json) as progress:
        _guard(lambda: store.write(dataset, progress=progress))
    report = dataset.report
    if as_json:
        _emit_json(report.model_dump())
        return
    out.print(f"read {report.rows_read:,} rows, accepted {report.rows_accepted:,}, "
              f"rejected {report.rejected_count:,}, duplicates dropped {report.duplicates_dropped:,}")  # fmt: skip
    for rejection in report.rejected[:10]:
        out.print(f"  rejected {rejection.file}:{rejection.line}: {rejection.reason}", highlight=False)
    if report.rejected_count > 10:
        out.print(f"  ... and {report.rejected_count - 10} more (use --json for all)")
    out.print("written: " + ", ".join(f"{k} {v:,}" for k, v in report.written.items()))


@load_app.command("hin")
def load_hin(directory: Path, as_json: JsonFlag = False, max_bad: MaxBad = 0.01) -> None:
    """HIN benchmark layout: user_item.dat plus item_<entity>.dat files."""
    _load(lambda: read_hin(directory, ErrorBudget(max_bad)), as_json)


@load_app.command("amazon2018")
def load_amazon2018(
    meta: Annotated[Path, typer.Option(help="meta_*.json[.gz] product metadata")],
    ratings: Annotated[Path | None, typer.Option(help="ratings CSV: item,user,rating,ts")] = None,
    reviews: Annotated[Path | None, typer.Option(help="reviews JSON lines [.gz]")] = None,
    as_json: JsonFlag = False,
    max_bad: MaxBad = 0.01,
) -> None:
    """Amazon review data 2018: metadata plus ratings CSV or reviews."""
    _load(
        lambda: read_amazon2018(meta, ratings=ratings, reviews=reviews, budget=ErrorBudget(max_bad)), as_json
    )


def _pairs(values: list[str], what: str) -> dict[str, Path]:
    parsed = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            _fail(f"{what} must look like NAME=FILE, got {value!r}")
        parsed[name] = Path(path)
    return parsed


@load_app.command("table")
def load_table(
    ratings: Annotated[Path, typer.Option(help="ratings table (CSV/TSV, header optional)")],
    item_attr: Annotated[
        list[str], typer.Option(help="LABEL=FILE: item,value table (Brand, Category, any)")
    ] = [],  # noqa: B006
    item_link: Annotated[list[str], typer.Option(help="REL=FILE: item,item table (e.g. ALSO_BOUGHT)")] = [],  # noqa: B006
    user_col: Annotated[str | None, typer.Option(help="user column: name or 0-based index")] = None,
    item_col: Annotated[str | None, typer.Option(help="item column: name or index")] = None,
    rating_col: Annotated[str | None, typer.Option(help="rating column: name or index")] = None,
    ts_col: Annotated[str | None, typer.Option(help="timestamp column: name or index")] = None,
    sep: Annotated[str | None, typer.Option(help="separator (detected when omitted); 'tab' for TAB")] = None,
    header: Annotated[bool | None, typer.Option("--header/--no-header", help="detected when omitted")] = None,
    scale: Annotated[str, typer.Option(help="rating scale LOW-HIGH")] = "1-5",
    as_json: JsonFlag = False,
    max_bad: MaxBad = 0.01,
) -> None:
    """Any ratings table plus item-attribute and item-item tables."""
    low, _, high = scale.partition("-")
    try:
        bounds = (float(low), float(high))
    except ValueError:
        _fail(f"--scale must look like 1-5, got {scale!r}")
    attrs, links = _pairs(item_attr, "--item-attr"), _pairs(item_link, "--item-link")
    delimiter = "\t" if sep == "tab" else sep
    _load(lambda: read_table(ratings, item_attrs=attrs, item_links=links, user_col=user_col, item_col=item_col,
                             rating_col=rating_col, ts_col=ts_col, delimiter=delimiter, header=header,
                             scale=bounds, budget=ErrorBudget(max_bad)), as_json)  # fmt: skip


@load_app.command("movielens")
def load_movielens(directory: Path, as_json: JsonFlag = False, max_bad: MaxBad = 0.01) -> None:
    """MovieLens 100K (u.data, u.item) or the ratings.csv/movies.csv layout; genres become categories."""
    _load(lambda: read_movielens(directory, ErrorBudget(max_bad)), as_json)


# -- graph ------------------------------------------------------------------------------------------------
@app.command()
def stats(as_json: JsonFlag = False) -> None:
    """Node count per label and relationship count per type."""
    with _store(quiet=as_json) as store:
        result = _guard(store.stats)
    if as_json:
        _emit_json({"nodes": result.nodes, "relationships": result.relationships})
        return
    table = Table("kind", "name", "count")
    for label, count in result.nodes.items():
        table.add_row("node", label, f"{count:,}")
    for rel, count in result.relationships.items():
        table.add_row("relationship", rel, f"{count:,}")
    out.print(table)


def _param(value: str) -> tuple[str, Any]:
    key, sep, raw = value.partition("=")
    if not sep or not key.isidentifier():
        _fail(f"--param must look like name=value, got {value!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


@app.command()
def cypher(
    query: str,
    param: Annotated[list[str], typer.Option("--param", "-p", help="name=value (JSON or text)")] = [],  # noqa: B006
    write: Annotated[bool, typer.Option("--write", help="Allow the query to write.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a Cypher query, read-only unless --write. Values go in as $parameters."""
    params = dict(_param(p) for p in param)
    with _store(quiet=as_json) as store:
        rows = _guard(lambda: store.write_query(query, params) if write else store.read(query, params))
    if as_json:
        _emit_json(rows)
        return
    if not rows:
        out.print("(no rows)")
        return
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*(json.dumps(v, default=str) if not isinstance(v, str) else v for v in row.values()))
    out.print(table)


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm deleting the whole graph.")] = False,
) -> None:
    """Delete every node and relationship of the workspace's graph."""
    if not yes:
        _fail(f"this deletes the whole graph of workspace {_State.settings.workspace!r}; rerun with --yes")
    with _store() as store:
        _guard(store.reset)
    out.print(f"graph of workspace {_State.settings.workspace!r} is empty")


# -- model ------------------------------------------------------------------------------------------------
@contextmanager
def _recommender(quiet: bool = False, need_model: bool = True) -> Iterator[Recommender]:
    from kgrec.recommender import Recommender  # torch loads only for the commands that need the model

    def note(message: str, done: int = 0, total: int = 0) -> None:
        if not quiet:
            err.print(f"[dim]{message}[/dim]")

    rec = _guard(lambda: Recommender.connect(_State.settings, progress=note))
    try:
        if need_model:
            _guard(rec._trained)
        yield rec
    finally:
        rec.close()


def _scores_table(title: str, scores: dict[str, Any]) -> Table:
    table = Table("part", "RMSE", "MAE", title=title)
    for part, score in scores.items():
        table.add_row(part, f"{score.rmse:.4f}", f"{score.mae:.4f}")
    return table


@app.command()
def train(
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
    from gnn import TrainConfig

    if split not in ("random", "temporal"):
        _fail(f"--split must be random or temporal, got {split!r}")
    if model_dir is not None:
        _State.settings = _State.settings.model_copy(update={"model_dir": model_dir})
    kind: Literal["random", "temporal"] = "temporal" if split == "temporal" else "random"
    config = _guard(lambda: TrainConfig(split=kind, seed=seed, text=text))
    with _recommender(quiet=as_json, need_model=False) as rec, _bar(as_json) as progress:
        metrics = _guard(lambda: rec.fit(config, progress=progress))
    if as_json:
        _emit_json(metrics.model_dump())
        return
    out.print(_scores_table("validation", metrics.val))
    out.print(_scores_table("test", metrics.test))
    out.print(f"model saved to {_State.settings.model_path}; embeddings written to Neo4j")


@app.command()
def predict(
    input: Annotated[Path, typer.Option("--input", help="CSV/TSV of user,item pairs (header optional)")],
    output: Annotated[Path, typer.Option("--out", help="CSV to write: user,item,prediction")],
) -> None:
    """Score (user, item) pairs with the trained model."""
    from loaders import read_pairs

    pairs = _guard(lambda: read_pairs(input))
    with _recommender() as rec:
        predicted = _guard(lambda: rec.predict_pairs(pairs))
    pairs.assign(prediction=predicted).to_csv(output, index=False)
    out.print(f"wrote {len(pairs):,} predictions to {output}")


@app.command()
def evaluate(
    ratings: Annotated[Path, typer.Option(help="ratings file in any layout `kgrec load table` reads")],
    as_json: JsonFlag = False,
) -> None:
    """RMSE and MAE of the trained model on a ratings file (unseen users and items allowed)."""
    from gnn import mae, rmse

    dataset = _guard(lambda: read_table(ratings))
    frame = dataset.ratings
    with _recommender(quiet=as_json) as rec:
        predicted = _guard(lambda: rec.predict_pairs(frame[["user", "item"]]))
        cold = rec._trained().cold_start(frame[["user", "item"]])
    truth = frame["rating"].to_numpy(dtype=float)
    payload = {"ratings": len(frame), "rmse": rmse(predicted, truth), "mae": mae(predicted, truth),
               "cold_start": cold.model_dump()}  # fmt: skip
    if as_json:
        _emit_json(payload)
    else:
        out.print(f"{len(frame):,} ratings: RMSE {payload['rmse']:.4f}  MAE {payload['mae']:.4f}  "
                  f"(cold users {cold.cold_users}, cold items {cold.cold_items})")  # fmt: skip


def _recommendation_table(title: str, rows: list[Any]) -> Table:
    table = Table("#", "item", "title", "brand", "predicted", title=title)
    for n, r in enumerate(rows, start=1):
        table.add_row(str(n), r.item, r.title or "", r.brand or "", f"{r.score:.2f}")
    return table


@app.command()
def recommend(
    user: str,
    k: Annotated[int, typer.Option("--k", help="how many items")] = 10,
    brand: Annotated[str | None, typer.Option(help="only items of this brand")] = None,
    category: Annotated[str | None, typer.Option(help="only items in this category or below it")] = None,
    include_seen: Annotated[bool, typer.Option(help="also items the user already rated")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Top items for a user."""
    with _recommender(quiet=as_json) as rec:
        rows = _guard(lambda: rec.recommend(user, k, not include_seen, brand, category))
    if as_json:
        _emit_json([r.model_dump() for r in rows])
    else:
        out.print(_recommendation_table(f"recommendations for {user}", rows))


@app.command()
def similar(item: str, k: Annotated[int, typer.Option("--k")] = 10, as_json: JsonFlag = False) -> None:
    """Items closest to ITEM by the model's embeddings (Neo4j vector index)."""
    with _recommender(quiet=as_json) as rec:
        rows = _guard(lambda: rec.similar_items(item, k))
    if as_json:
        _emit_json([r.model_dump() for r in rows])
        return
    table = Table("item", "title", "cosine", title=f"similar to {item}")
    for r in rows:
        table.add_row(r.item, r.title or "", f"{r.score:.3f}")
    out.print(table)


@app.command()
def search(
    query: str,
    user: Annotated[str | None, typer.Option(help="re-rank by this user's predicted rating")] = None,
    k: Annotated[int, typer.Option("--k")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Full-text search on item titles and descriptions."""
    with _recommender(quiet=as_json, need_model=user is not None) as rec:
        rows = _guard(lambda: rec.search(query, user, k))
    if as_json:
        _emit_json([r.model_dump() for r in rows])
        return
    table = Table("item", "title", "text score", "predicted", title=f"search: {query}")
    for r in rows:
        table.add_row(
            r.item, r.title or "", f"{r.text_score:.2f}", "" if r.predicted is None else f"{r.predicted:.2f}"
        )
    out.print(table)


@app.command()
def profile(user: str, as_json: JsonFlag = False) -> None:
    """The brands, categories and other entities a user leans to, with the model's predicted ratings."""
    with _recommender(quiet=as_json, need_model=False) as rec:
        result = _guard(lambda: rec.profile(user))
    if as_json:
        _emit_json(result.model_dump())
        return
    mean = "-" if result.mean_rating is None else f"{result.mean_rating:.2f}"
    out.print(f"{user}: {result.ratings} ratings, mean {mean}")
    for label, rows in result.leanings.items():
        if not rows:
            continue
        table = Table(label.lower(), "ratings", "mean", "weight", "predicted")
        for r in rows:
            predicted = "-" if r.predicted is None else f"{r.predicted:.2f}"
            table.add_row(r.name, str(r.ratings), f"{r.mean_rating:.2f}", f"{r.weight:.0%}", predicted)
        out.print(table)


def _print_explanation(explanation: Any) -> None:
    if not explanation.paths:
        out.print("  (no path in the graph links them)")
    for path in explanation.paths:
        out.print(f"  [{path.score:+.2f}] {path.sentence}", highlight=False)


@app.command()
def explain(
    user: str,
    item: str,
    top: Annotated[int, typer.Option("--top", help="how many paths")] = 3,
    as_json: JsonFlag = False,
) -> None:
    """The graph paths that justify recommending ITEM to USER, scored by how much the model relies on them."""
    with _recommender(quiet=as_json) as rec:
        result = _guard(lambda: rec.explain(user, item, top))
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    out.print(f"why {item} for {user}:")
    _print_explanation(result)


@app.command()
def report(
    output: Annotated[Path, typer.Option("--out", help="file to write")],
    brand: Annotated[str | None, typer.Option(help="only this brand's items")] = None,
    category: Annotated[str | None, typer.Option(help="only items in this category (or below)")] = None,
    users: Annotated[Path | None, typer.Option(help="file with one user id per line")] = None,
    sample: Annotated[int, typer.Option(help="at most this many users")] = 20,
    fmt: Annotated[str, typer.Option("--format", help="html or md")] = "html",
) -> None:
    """A self-contained report for merchandisers: who gets what recommended, and why."""
    from explain import render_html, render_markdown

    if fmt not in ("html", "md"):
        _fail(f"--format must be html or md, got {fmt!r}")
    chosen = None
    if users is not None:
        if not users.exists():
            _fail(f"{users}: file not found")
        chosen = [line.strip() for line in users.read_text().splitlines() if line.strip()]
    with _recommender() as rec:
        data = _guard(lambda: rec.report(chosen, brand=brand, category=category, sample=sample))
    output.write_text(render_html(data) if fmt == "html" else render_markdown(data), encoding="utf-8")
    out.print(f"report written to {output}")


@app.command()
def demo(
    magazine: Annotated[
        Path | None, typer.Option(help="use the Amazon 2018 magazine folder instead of generated data")
    ] = None,
    user: Annotated[str | None, typer.Option(help="the sample user (default: one with many ratings)")] = None,
    report_path: Annotated[Path, typer.Option("--report", help="where to write the HTML report")] = Path(
        "kgrec-report.html"
    ),
) -> None:
    """The whole pipeline on demo data: Neo4j, load, train, recommendations with explanations, a report.

    Runs in its own workspace (``demo`` unless --workspace is given), which it empties first.
    """
    from gnn import TrainConfig
    from loaders.demo import demo_dataset

    if _State.settings.workspace == "default":
        _State.settings = _State.settings.model_copy(update={"workspace": "demo"})
    err.print(f"[bold]1/5[/bold] Neo4j (workspace {_State.settings.workspace})")
    with _recommender(need_model=False) as rec:
        _guard(rec.store.reset)
        err.print(
            "[bold]2/5[/bold] loading "
            + (f"magazine data from {magazine}" if magazine else "the demo catalogue")
        )
        if magazine:
            dataset = _guard(lambda: read_amazon2018(magazine / "meta_Magazine_Subscriptions.json.gz",
                                                     ratings=magazine / "Magazine_Subscriptions.ratings.csv"))  # fmt: skip
        else:
            dataset, _ = demo_dataset()
        with _bar(False) as progress:
            _guard(lambda: rec.load_dataset(dataset, progress=progress))
        err.print("[bold]3/5[/bold] training the rating model")
        with _bar(False) as progress:
            metrics = _guard(lambda: rec.fit(TrainConfig(seed=0), progress=progress))
        out.print(_scores_table("test", metrics.test))
        sample = user or _busiest_user(rec)
        err.print(f"[bold]4/5[/bold] recommendations for {sample}")
        recs = _guard(lambda: rec.recommend(sample, k=5))
        out.print(_recommendation_table(f"recommendations for {sample}", recs))
        for r in recs[:3]:
            out.print(f"why {r.title or r.item}:", highlight=False)
            _print_explanation(_guard(partial(rec.explain, sample, r.item, top=2)))
        err.print("[bold]5/5[/bold] report")
        from explain import render_html

        data = _guard(lambda: rec.report(sample=10))
        report_path.write_text(render_html(data), encoding="utf-8")
        out.print(f"report written to {report_path.resolve()}")
        out.print(
            f"Explore further: kgrec -w {_State.settings.workspace} recommend {sample} | stats | cypher ..."
        )


def _busiest_user(rec: Recommender) -> str:
    users = rec.store.top_raters(1)
    if not users:
        _fail("the graph holds no users")
    return users[0]


if __name__ == "__main__":
    app()
