"""A LightGBM model file checked in Python before LightGBM sees it.

LightGBM's text parser trusts its input: a file cut inside a tree, a number it cannot read or a line without
``=`` ends the process (``terminate called``, a segmentation fault), out of reach of any ``try``. So the
file is read here first, strictly: only what kgrec's training writes (one model per iteration, numerical
splits, no linear trees) is accepted, every number is checked, every tree is walked from its root (each
node and leaf reached exactly once), split features must fall in the ranker's feature list, and the file
must run to its last line. LightGBM then parses a model string rebuilt from the checked fields alone, in
the layout it writes itself; the parts it needs only for training again (``feature_importances``,
``parameters``) are left out.

Example:
    >>> booster = read_booster(Path("models/shop/ranker/fusion.txt"), features)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path

import lightgbm as lgb

from core.errors import ModelError

__all__ = ["checked_model_text", "read_booster"]

_OBJECTIVES = ("lambdarank", "rank_xendcg")
"""The objectives a kgrec ranker is trained with (a model of another kind is not one of its files)."""

_LAST_LINE = "pandas_categorical:null"
"""What the Python package writes last: a file without it was cut short."""

_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\Z")
_INT = re.compile(r"-?\d{1,10}\Z")

# per tree: each array field, its kind and its length (per split node, per leaf; a one-leaf tree has no
# leaf_weight)
_ARRAYS = (
    ("split_feature", "int", "nodes"),
    ("split_gain", "float", "nodes"),
    ("threshold", "float", "nodes"),
    ("decision_type", "int", "nodes"),
    ("left_child", "int", "nodes"),
    ("right_child", "int", "nodes"),
    ("leaf_value", "float", "leaves"),
    ("leaf_weight", "float", "weights"),
    ("leaf_count", "int", "leaves"),
    ("internal_value", "float", "nodes"),
    ("internal_weight", "float", "nodes"),
    ("internal_count", "int", "nodes"),
)
_TREE_KEYS = ("num_leaves", "num_cat", *(name for name, _, _ in _ARRAYS), "is_linear", "shrinkage")
_HEADER_KEYS = (
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "objective",
    "feature_names",
    "monotone_constraints",
    "feature_infos",
    "tree_sizes",
)
_MAX_LEAVES = 1 << 17


class _Damaged(ValueError):
    """What is wrong with the text, where (a line number) when known."""


def read_booster(path: Path, features: Sequence[str], sha256: str | None = None) -> lgb.Booster:
    """The LightGBM model in ``path``, over exactly ``features``; a file that is damaged, cut short, not
    the one its ``sha256`` names (when given) or not a model of these features is one :class:`ModelError`,
    and LightGBM never reads it."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ModelError(f"{path}: cannot read the ranking model: {e.strerror or e}; train again") from e
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise ModelError(f"{path}: the ranking model is not the file its folder was saved with; train again")
    try:
        text = checked_model_text(raw.decode("ascii"), features)
    except UnicodeDecodeError as e:
        raise ModelError(f"{path}: not a LightGBM model (byte {e.start} is not text); train again") from e
    except _Damaged as e:
        raise ModelError(f"{path}: damaged ranking model: {e}; train again") from e
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as e:  # checked above, so not expected: still one error, not a traceback
        raise ModelError(f"{path}: LightGBM cannot read the ranking model: {e}; train again") from e


def checked_model_text(text: str, features: Sequence[str]) -> str:
    """The model string LightGBM is given for ``text`` (a saved model over ``features``); raises a
    ``ValueError`` naming the first defect."""
    lines = text.split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "tree":
        raise _Damaged("line 1: not a LightGBM tree model")
    if lines[-1] != _LAST_LINE:
        raise _Damaged(f"it ends at line {len(lines)} before its last line ({_LAST_LINE!r}): cut short")
    header, at = _block(lines, 1, _HEADER_KEYS)
    n_trees = _header(header, features)
    while at < len(lines) and lines[at] == "":
        at += 1
    trees = []
    for n in range(n_trees):
        if at >= len(lines) or lines[at] != f"Tree={n}":
            raise _Damaged(f"line {at + 1}: tree {n} of {n_trees} expected")
        fields, at = _block(lines, at + 1, _TREE_KEYS)
        trees.append(_tree(fields, len(features), n, at))
        while at < len(lines) and lines[at] == "":
            at += 1
    if at >= len(lines) or lines[at] != "end of trees":
        raise _Damaged(f"line {at + 1}: 'end of trees' expected after {n_trees} trees")
    head = [
        "tree",
        "version=v4",
        "num_class=1",
        "num_tree_per_iteration=1",
        "label_index=0",
        f"max_feature_idx={len(features) - 1}",
        f"objective={header['objective']}",
        f"feature_names={' '.join(features)}",
        f"feature_infos={header['feature_infos']}",
        f"tree_sizes={' '.join(str(len(t) + 1) for t in trees)}",  # + the blank line after each
        "",
        "",
    ]
    return "\n".join(head) + "".join(t + "\n" for t in trees) + "end of trees\n\n" + _LAST_LINE + "\n"


def _block(lines: list[str], start: int, allowed: Sequence[str]) -> tuple[dict[str, str], int]:
    """The ``key=value`` lines from ``start`` to the next blank line, each key once and known."""
    fields: dict[str, str] = {}
    at = start
    while at < len(lines) and lines[at] != "":
        key, sep, value = lines[at].partition("=")
        if not sep or key not in allowed or key in fields:
            raise _Damaged(f"line {at + 1}: {lines[at][:60]!r} is not a field of this block")
        fields[key] = value
        at += 1
    if at >= len(lines):
        raise _Damaged(f"line {at}: the file ends inside a block")
    missing = [k for k in allowed if k not in fields and k != "monotone_constraints"]
    if missing:
        raise _Damaged(f"line {at + 1}: the block that starts at line {start + 1} has no {missing[0]}")
    return fields, at


def _header(fields: dict[str, str], features: Sequence[str]) -> int:
    """Check the model's header against ``features``; the number of trees it announces."""
    fixed = {"version": "v4", "num_class": "1", "num_tree_per_iteration": "1", "label_index": "0"}
    for key, value in fixed.items():
        if fields[key] != value:
            raise _Damaged(f"header {key}={fields[key][:40]!r}, a kgrec ranker has {value}")
    if fields["objective"] not in _OBJECTIVES:
        raise _Damaged(f"objective {fields['objective'][:40]!r} is not a ranking objective")
    if fields["max_feature_idx"] != str(len(features) - 1) or fields["feature_names"].split(" ") != list(
        features
    ):
        raise _Damaged(f"its features are not the ranker's {len(features)} features")
    infos = fields["feature_infos"].split(" ")
    if len(infos) != len(features) or not all(_feature_info(i) for i in infos):
        raise _Damaged("feature_infos does not describe one numerical range per feature")
    if "monotone_constraints" in fields:
        _ints(fields["monotone_constraints"], len(features), "monotone_constraints")
    sizes = fields["tree_sizes"].split(" ") if fields["tree_sizes"] else []
    if not sizes or not all(_INT.match(s) and int(s) > 0 for s in sizes):
        raise _Damaged("tree_sizes does not count the trees")
    return len(sizes)


def _feature_info(info: str) -> bool:
    if info == "none":
        return True
    low, sep, high = info.removeprefix("[").removesuffix("]").partition(":")
    return info.startswith("[") and info.endswith("]") and bool(sep) and _finite(low) and _finite(high)


def _tree(fields: dict[str, str], n_features: int, n: int, end: int) -> str:
    """Check one tree's fields; the tree as LightGBM writes it (``Tree=n`` and its lines)."""
    where = f"tree {n} (ending at line {end})"
    leaves = _ints(fields["num_leaves"], 1, f"{where}: num_leaves")[0]
    if not 1 <= leaves <= _MAX_LEAVES:
        raise _Damaged(f"{where}: num_leaves={leaves}")
    for key, want in (("num_cat", "0"), ("is_linear", "0")):
        if fields[key] != want:
            raise _Damaged(f"{where}: {key}={fields[key][:20]!r}, a kgrec ranker has {want}")
    _floats(fields["shrinkage"], 1, f"{where}: shrinkage")
    # LightGBM writes no leaf_weight for a tree of one leaf
    sizes = {"nodes": leaves - 1, "leaves": leaves, "weights": leaves if leaves > 1 else 0}
    arrays: dict[str, list[int]] = {}
    for name, kind, per in _ARRAYS:
        if kind == "int":
            arrays[name] = _ints(fields[name], sizes[per], f"{where}: {name}")
        else:
            _floats(fields[name], sizes[per], f"{where}: {name}", infinite=name == "threshold")
    if any(not 0 <= f < n_features for f in arrays["split_feature"]):
        raise _Damaged(f"{where}: split_feature outside the {n_features} features")
    # bit 0: a categorical split (never trained here); bits 2-3: how a missing value goes (0, 1 or 2)
    if any(d < 0 or d > 15 or d & 1 or (d >> 2) & 3 == 3 for d in arrays["decision_type"]):
        raise _Damaged(f"{where}: a decision_type that is not a numerical split")
    if any(c < 0 for c in (*arrays["leaf_count"], *arrays["internal_count"])):
        raise _Damaged(f"{where}: a negative count")
    _walk(arrays["left_child"], arrays["right_child"], leaves, where)
    body = [f"Tree={n}", f"num_leaves={leaves}", "num_cat=0"]
    body += [f"{name}={fields[name]}" for name, _, _ in _ARRAYS]
    body += ["is_linear=0", f"shrinkage={fields['shrinkage']}", ""]
    return "\n".join(body) + "\n"


def _walk(left: list[int], right: list[int], leaves: int, where: str) -> None:
    """Each split node (``>= 0``) and leaf (``~leaf``) reached exactly once from the root: no index out of
    range, no cycle, nothing unreachable (LightGBM would follow any of these out of its arrays)."""
    nodes = leaves - 1
    seen_nodes, seen_leaves = [False] * nodes, [False] * leaves
    if not nodes:  # the root is the one leaf
        return
    stack = [0]
    while stack:
        node = stack.pop()
        if seen_nodes[node]:
            raise _Damaged(f"{where}: split node {node} is reached twice")
        seen_nodes[node] = True
        for child in (left[node], right[node]):
            if 0 <= child < nodes:
                stack.append(child)
            elif -leaves <= child < 0 and not seen_leaves[~child]:
                seen_leaves[~child] = True
            else:
                raise _Damaged(f"{where}: split node {node} has child {child}")
    if not all(seen_nodes) or not all(seen_leaves):
        raise _Damaged(f"{where}: a node or leaf that the root does not reach")


def _tokens(value: str, count: int, what: str) -> list[str]:
    tokens = value.split(" ") if value else []
    if len(tokens) != count:
        raise _Damaged(f"{what} has {len(tokens)} values, {count} expected")
    return tokens


def _ints(value: str, count: int, what: str) -> list[int]:
    tokens = _tokens(value, count, what)
    if not all(_INT.match(t) and abs(int(t)) < 1 << 31 for t in tokens):
        raise _Damaged(f"{what}: a value that is not a 32-bit integer")
    return [int(t) for t in tokens]


def _floats(value: str, count: int, what: str, infinite: bool = False) -> None:
    """``infinite``: ``inf`` and ``-inf`` allowed, as LightGBM writes the threshold of a split that parts a
    feature's missing values from all its others (its own parser reads them)."""
    if not all(_finite(t) or (infinite and t in ("inf", "-inf")) for t in _tokens(value, count, what)):
        raise _Damaged(f"{what}: a value that is not a finite number")


def _finite(token: str) -> bool:
    return bool(_FLOAT.match(token)) and math.isfinite(float(token))
