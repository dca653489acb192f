"""A LightGBM model file is checked before LightGBM reads it (:mod:`rank.booster_text`): a file cut at any
byte, or with any number or line damaged, is refused, and whatever the check lets through LightGBM loads
and predicts with (in a child process, so that an abort would show as its exit status, not end the suite)."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from core.errors import ModelError
from rank.booster_text import checked_model_text, read_booster

FEATURES = [f"f{n}" for n in range(5)]

_LOAD_ALL = """
import json, sys
import lightgbm as lgb
import numpy as np
x = np.random.default_rng(0).normal(size=(300, 5)) * 3
x[::7, 1] = np.nan
for text in json.load(open(sys.argv[1])):
    lgb.Booster(model_str=text).predict(x)
print("loaded")
"""


@pytest.fixture(scope="module")
def model_text() -> str:
    """A small LambdaRank model as LightGBM's Python package saves it (with a one-leaf tree at the end)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5))
    y = (x[:, 0] + rng.normal(size=2000) > 0).astype(int)
    model = lgb.LGBMRanker(
        objective="lambdarank", n_estimators=6, num_leaves=6, min_child_samples=5, verbose=-1
    )
    model.fit(x, y, group=np.full(200, 10), feature_name=FEATURES)
    return str(model.booster_.model_to_string())


def _refused(text: str) -> bool:
    try:
        checked_model_text(text, FEATURES)
    except ValueError:
        return True
    return False


def _loads_in_a_child(texts: list[str], tmp_path: Path) -> None:
    path = tmp_path / "accepted.json"
    path.write_text(json.dumps(texts))
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_ALL, str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0 and "loaded" in done.stdout, done.stderr[-2000:]


def test_the_checked_model_predicts_as_the_saved_one(model_text: str, tmp_path: Path) -> None:
    path = tmp_path / "fusion.txt"
    path.write_text(model_text)
    booster = read_booster(path, FEATURES, hashlib.sha256(model_text.encode()).hexdigest())
    x = np.random.default_rng(1).normal(size=(500, 5))
    assert np.array_equal(booster.predict(x), lgb.Booster(model_str=model_text).predict(x))
    assert booster.num_trees() == lgb.Booster(model_str=model_text).num_trees()


def test_a_file_cut_at_any_byte_is_refused(model_text: str) -> None:
    complete = len(model_text.rstrip("\n"))
    assert [n for n in range(len(model_text)) if not _refused(model_text[:n])] == list(
        range(complete, len(model_text))
    )  # only the final newlines may go


def test_damaged_numbers_and_lines_are_refused_or_harmless(model_text: str, tmp_path: Path) -> None:
    lines = model_text.split("\n")
    trees_end = lines.index("end of trees")
    bad = ["", "x", "nan", "1e999", "-1", "-7", "99999", "1.5", "1_0", " 1", "2147483648"]
    texts = []
    for i, line in enumerate(lines[: lines.index("Tree=2")]):  # the header and two trees, every number
        key, sep, value = line.partition("=")
        if not sep:
            continue
        tokens = value.split(" ")
        damaged = [" ".join([*tokens[:j], b, *tokens[j + 1 :]]) for j in range(len(tokens)) for b in bad]
        damaged += [" ".join(tokens[:-1]), " ".join(tokens + tokens[-1:])]
        texts += ["\n".join([*lines[:i], f"{key}={d}", *lines[i + 1 :]]) for d in damaged]
        texts.append("\n".join([*lines[:i], key, *lines[i + 1 :]]))
    texts += ["\n".join(lines[:i] + lines[i + 1 :]) for i in range(trees_end + 1)]  # a line lost
    texts += ["\n".join(lines[: i + 1] + lines[i:]) for i in range(trees_end + 1)]  # a line twice
    rng = random.Random(0)
    for _ in range(1000):  # a byte overwritten
        at = rng.randrange(len(model_text))
        texts.append(model_text[:at] + rng.choice("0123456789-.e =\nx") + model_text[at + 1 :])
    accepted = [checked_model_text(text, FEATURES) for text in texts if not _refused(text)]
    assert len(accepted) < len(texts) // 2  # most of them damage what LightGBM reads
    _loads_in_a_child(list(dict.fromkeys(accepted)), tmp_path)


def test_a_bad_leaf_value_or_a_cut_tree_is_one_model_error(model_text: str, tmp_path: Path) -> None:
    path = tmp_path / "fusion.txt"
    leaf = next(line for line in model_text.split("\n") if line.startswith("leaf_value="))
    path.write_text(model_text.replace(leaf, leaf.replace(" ", " x", 1), 1))
    with pytest.raises(ModelError, match="tree 0 .*leaf_value.*train again"):
        read_booster(path, FEATURES)
    path.write_text(model_text[: model_text.index("Tree=1") + 40])
    with pytest.raises(ModelError, match="cut short"):
        read_booster(path, FEATURES)


def test_a_file_of_other_features_or_another_checksum_is_refused(model_text: str, tmp_path: Path) -> None:
    path = tmp_path / "fusion.txt"
    path.write_text(model_text)
    with pytest.raises(ModelError, match="not the ranker's 4 features"):
        read_booster(path, FEATURES[:4])
    with pytest.raises(ModelError, match="not the file its folder was saved with"):
        read_booster(path, FEATURES, hashlib.sha256(b"another file").hexdigest())
    path.write_bytes(b"tree\n\xff\xfe")
    with pytest.raises(ModelError, match="not text"):
        read_booster(path, FEATURES)


_LOAD_SEARCH = """
import sys
from core.errors import ModelError
from rank.search import SearchRanker
try:
    SearchRanker.load(sys.argv[1])
except ModelError as e:
    print(e)
"""


def _ranking_booster(features: list[str]) -> lgb.Booster:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, len(features)))
    y = (x[:, 0] > 0).astype(int)
    train = lgb.Dataset(x, y, group=[20] * 20, feature_name=features)
    return lgb.train({"objective": "lambdarank", "verbose": -1, "num_leaves": 4}, train, num_boost_round=3)


@pytest.mark.parametrize("damage", ["cut", "swapped"])
def test_a_damaged_search_model_is_one_error_not_an_abort(tmp_path: Path, damage: str) -> None:
    from rank.search import SearchRanker, search_features

    folder = SearchRanker(
        _ranking_booster(search_features(True)), _ranking_booster(search_features(False))
    ).save(tmp_path / "search")
    assert isinstance(SearchRanker.load(folder), SearchRanker)
    personal = folder / "personal.txt"
    text = personal.read_text()
    if damage == "cut":  # inside the first tree: LightGBM's own parser aborts the process on this
        personal.write_text(text[: text.index("leaf_value=") + 15])
    else:  # a whole, valid model, but not the file the folder was saved with
        personal.write_text((folder / "anonymous.txt").read_text())
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_SEARCH, str(folder)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert str(personal) in done.stdout and "train again" in done.stdout


def test_an_infinite_threshold_as_lightgbm_writes_it_is_read(model_text: str, tmp_path: Path) -> None:
    """LightGBM writes ``inf`` as the threshold of a split that parts missing values from all others (a
    search model trained on the magazine data had one); the check lets it through, and only it."""
    line = next(line for line in model_text.split("\n") if line.startswith("threshold="))
    tokens = line.removeprefix("threshold=").split(" ")
    texts = [model_text.replace(line, "threshold=" + " ".join([v, *tokens[1:]]), 1) for v in ("inf", "-inf")]
    accepted = [checked_model_text(text, FEATURES) for text in texts]
    _loads_in_a_child(accepted, tmp_path)
    for elsewhere in ("leaf_value=", "split_gain="):
        other = next(line for line in model_text.split("\n") if line.startswith(elsewhere))
        assert _refused(model_text.replace(other, other.replace("=", "=inf ", 1).rsplit(" ", 1)[0], 1))
