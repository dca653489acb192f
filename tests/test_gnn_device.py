"""``--device``: where torch trains. On a machine without CUDA, ``cpu`` and the default give the same model,
and ``cuda`` is one clear line; trained models load onto the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from core.errors import ConfigError
from gnn import RatingModel, TrainConfig, Trainer, planted_export, resolve_device
from gnn.lightgcn import LightGCN
from kgrec.cli import app

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without a GPU")

SMALL = TrainConfig(hidden=16, max_epochs=30, patience=30, lr=0.02, mf_factors=8, mf_epochs=30, text=False)


@pytest.fixture(scope="module")
def export():
    return planted_export(num_users=40, items_per_brand=5, ratings_per_user=10, seed=2)[0]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_auto_is_cuda_when_present_else_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@NO_CUDA
def test_cpu_trains_what_the_default_trains_here(export, tmp_path):
    default = Trainer(SMALL).fit(export)
    on_cpu = Trainer(SMALL.model_copy(update={"device": "cpu"})).fit(export)
    pairs = default.split.test
    assert np.array_equal(on_cpu.model.predict(pairs), default.model.predict(pairs))
    assert on_cpu.metrics.test == default.metrics.test
    assert all(p.device.type == "cpu" for p in on_cpu.model.net.parameters())
    loaded = RatingModel.load(on_cpu.model.save(tmp_path / "m"))
    assert loaded.config.device == "cpu"
    assert np.array_equal(loaded.predict(pairs), on_cpu.model.predict(pairs))


@NO_CUDA
def test_lightgcn_on_cpu_equals_the_default_here():
    pairs = (np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]))
    knowledge = (np.array([0, 1, 2]), np.array([0, 0, 1]))
    runs = [
        LightGCN(dim=8, epochs=3, seed=0, **kw).fit(pairs, 3, 3, knowledge, 2)
        for kw in ({}, {"device": "cpu"})
    ]
    assert np.array_equal(runs[0].item_embeddings, runs[1].item_embeddings)
    assert np.array_equal(runs[0].user_embeddings, runs[1].user_embeddings)


@NO_CUDA
def test_cuda_without_a_gpu_is_one_config_error(export):
    with pytest.raises(ConfigError, match="no CUDA GPU") as caught:
        Trainer(SMALL.model_copy(update={"device": "cuda"})).fit(export)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        LightGCN(dim=4, epochs=1, device="cuda").fit((np.array([0]), np.array([0])), 1, 1)


@NO_CUDA
def test_train_device_cuda_without_a_gpu_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("KGREC_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["train", "--device", "cuda"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "no CUDA GPU" in lines[0]
    assert "Traceback" not in result.output


def test_train_refuses_an_unknown_device(tmp_path, monkeypatch):
    monkeypatch.setenv("KGREC_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["train", "--device", "tpu"])
    assert result.exit_code == 1 and "--device must be auto, cpu or cuda" in result.output
