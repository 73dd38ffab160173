"""Fixtures shared by labcore's tests."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from labcore.zoo.server import make_server, serve_in_thread


def _calibrate_batch_norms(model: nn.Module, x: torch.Tensor) -> None:
    """Running statistics of every BatchNorm2d set to those of a forward pass over ``x``
    (Tensor[B, 3, H, W]), as after training: non-trivial means and variances that keep
    the activations of deep networks near unit scale, so logits stay O(1) and an absolute
    tolerance means the same for every depth."""
    for bn in model.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: the statistics of this one batch
    with torch.no_grad():
        model.train()(x)
    model.eval()


@pytest.fixture
def calibrate_batch_norms():
    """:func:`_calibrate_batch_norms`, for tests that compare logits with torchvision's."""
    return _calibrate_batch_norms


@pytest.fixture
def zoo_env(tmp_path, monkeypatch):
    """A zoo of its own under ``tmp_path``: ``OPENLAB_HOME`` (the download cache) in
    ``home/``, manifests read from ``manifests/`` (created), no mirrors, not offline, one
    try per download with a 5 s timeout. Returns ``tmp_path``."""
    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", str(tmp_path / "manifests"))
    monkeypatch.setenv("OPENLAB_ZOO_RETRIES", "1")
    monkeypatch.setenv("OPENLAB_ZOO_TIMEOUT", "5")
    monkeypatch.delenv("OPENLAB_ZOO_MIRRORS", raising=False)
    monkeypatch.delenv("OPENLAB_OFFLINE", raising=False)
    (tmp_path / "manifests").mkdir()
    return tmp_path


@pytest.fixture
def server(tmp_path):
    """A real HTTP file server on 127.0.0.1 serving ``tmp_path/served``; files put in
    ``server.models`` are downloaded from ``server.url``."""
    root = tmp_path / "served" / "models"
    root.mkdir(parents=True)
    srv = make_server(tmp_path / "served")
    serve_in_thread(srv)
    srv.models = root
    srv.url = f"http://127.0.0.1:{srv.server_port}/models"
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def torchvision_resnet18(tmp_path_factory):
    """torchvision's resnet18 with random weights (seed 0) and the file it is saved in,
    as torchvision publishes it: ``(model, path)``."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path_factory.mktemp("tv") / "resnet18.pth"
    torch.save(model.state_dict(), path)
    return model, path
