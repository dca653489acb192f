"""Where training runs: ``--device auto|cpu|cuda`` resolved once, to a :class:`torch.device`.

``auto`` is CUDA when torch sees a GPU, else the CPU. Asking for CUDA where torch sees none is a
:class:`~core.errors.ConfigError` that says so in one line, before any tensor is made. Trained models
always come back to the CPU (checkpoints are written from it and load onto it); serving stays there.

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in ("cpu", "cuda")
    True
"""

from __future__ import annotations

from typing import Literal

import torch

from core.errors import ConfigError

__all__ = ["DeviceName", "resolve_device"]

DeviceName = Literal["auto", "cpu", "cuda"]
"""What a user may ask for: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``."""


def resolve_device(name: str) -> torch.device:
    """The device ``name`` stands for on this machine; ``cuda`` without a usable GPU, or a name that is
    not one of :data:`DeviceName`, is a ConfigError."""
    if name == "cpu":
        return torch.device("cpu")
    if name not in ("auto", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {name!r}")
    available = torch.cuda.is_available()
    if name == "cuda" and not available:
        raise ConfigError(
            "--device cuda: torch sees no CUDA GPU on this machine "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}); use --device cpu or auto"
        )
    return torch.device("cuda" if available else "cpu")
