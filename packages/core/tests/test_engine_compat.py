"""labcore.engine.compat: each MMEngine fix, against the unpatched original it replaces."""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from labcore.engine import compat, package_utils
from labcore.engine.checkpoint import load_checkpoint_file, load_from_http
from labcore.errors import CheckpointError


def test_apply_is_idempotent():
    before = dict(compat.ORIGINALS)
    compat.apply()
    assert before == compat.ORIGINALS


# --- pkg_resources removed ---------------------------------------------------------


def test_package_utils_work_without_pkg_resources():
    assert importlib.util.find_spec("pkg_resources") is None
    with pytest.raises(ModuleNotFoundError, match="pkg_resources"):
        compat.ORIGINALS["is_installed"]("mmengine")
    with pytest.raises(ModuleNotFoundError, match="pkg_resources"):
        compat.ORIGINALS["get_installed_path"]("mmengine")

    import mmengine
    import mmengine.utils

    assert mmengine.utils.is_installed("mmengine")
    assert mmengine.utils.is_installed("labcore")
    assert not mmengine.utils.is_installed("no-such-openlab-package")
    assert mmengine.utils.get_installed_path("mmengine") == os.path.dirname(mmengine.__file__)
    assert package_utils.package2module("mmengine") == "mmengine"
    assert package_utils.get_installed_path("labcore") == str(
        Path(importlib.util.find_spec("labcore").origin).parent
    )


# --- torch >= 2.6 weights_only -------------------------------------------------------


def _mmengine_checkpoint() -> dict:
    """What Runner.save_checkpoint writes: meta, weights, message hub, optimizer and
    scheduler states."""
    hub = MessageHub("compat-test")
    hub.update_scalar("train/loss", 0.5)
    hub.update_scalar("train/lr", np.float64(0.1))
    hub.update_info("iter", 3)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    return {
        "meta": {"epoch": 1, "iter": 3, "seed": 0, "mmengine_version": "0.10.7",
                 "dataset_meta": {"classes": ("a", "b")}, "time": "now"},
        "state_dict": OrderedDict(model.state_dict()),
        "message_hub": hub.state_dict(),
        "optimizer": optimizer.state_dict(),
        "param_schedulers": [{"last_step": 3, "base_values": [0.1], "gamma": np.float64(0.5)}],
    }  # fmt: skip


def test_mmengine_checkpoints_load_with_weights_only(tmp_path):
    path = tmp_path / "epoch_1.pth"
    checkpoint = _mmengine_checkpoint()
    torch.save(checkpoint, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        compat.ORIGINALS["load_checkpoint:"](str(path), "cpu")

    loaded = _load_checkpoint(str(path), map_location="cpu")  # MMEngine's own entry point
    for key, value in checkpoint["state_dict"].items():
        assert torch.equal(loaded["state_dict"][key], value)
    hub = MessageHub("compat-test-loaded")
    hub.load_state_dict(loaded["message_hub"])
    assert hub.get_scalar("train/lr").current() == 0.1
    assert hub.get_scalar("train/loss").mean() == 0.5
    assert loaded["optimizer"]["param_groups"] == checkpoint["optimizer"]["param_groups"]
    assert loaded["param_schedulers"][0]["gamma"] == 0.5


class _Payload:
    """An object whose unpickling would run a function: must never be executed."""

    def __reduce__(self):
        return (os.getcwd, ())


class _TouchPayload:
    """An object whose unpickling creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


class _GetattrPayload:
    def __reduce__(self):
        return (getattr, (HistoryBuffer, "_set_default_statistics"))


@pytest.mark.parametrize("payload", [_Payload(), _GetattrPayload()], ids=["call", "getattr"])
def test_objects_outside_the_allowlist_are_refused(tmp_path, payload):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "x": payload}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pth.*not allowed"):
        load_checkpoint_file(path)


def test_refused_object_is_named(tmp_path):
    import argparse

    path = tmp_path / "script_checkpoint.pth"  # as torchvision's training scripts save
    torch.save({"model": {}, "args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(CheckpointError, match=r"\(global argparse\.Namespace\)"):
        load_checkpoint_file(path)


def test_corrupt_missing_and_truncated_files_name_the_file(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.pth.*not a readable torch checkpoint"):
        load_checkpoint_file(text)
    good = tmp_path / "good.pth"
    torch.save(_mmengine_checkpoint(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=r"truncated\.pth"):
        load_checkpoint_file(truncated)
    with pytest.raises(CheckpointError, match=r"missing\.pth.*does not exist"):
        _load_checkpoint(str(tmp_path / "missing.pth"))


def test_downloads_load_restricted(tmp_path, monkeypatch):
    import mmengine.runner.checkpoint as mm_checkpoint

    assert CheckpointLoader._get_checkpoint_loader("https://x/y.pth") is load_from_http
    assert mm_checkpoint.load_from_http is load_from_http  # used by torchvision:// names
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # explicit weights_only wins
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    good, evil = tmp_path / "good.pth", tmp_path / "evil.pth"
    torch.save(_mmengine_checkpoint(), good)
    torch.save({"x": _Payload()}, evil)
    loaded = load_from_http(good.as_uri(), map_location="cpu", model_dir=str(tmp_path / "a"))
    assert loaded["meta"]["epoch"] == 1
    with pytest.raises(
        CheckpointError, match=r"not allowed to be unpickled \(global posix\.getcwd\)"
    ):
        load_from_http(evil.as_uri(), map_location="cpu", model_dir=str(tmp_path / "b"))

    # MMEngine's loader unpickles a download unrestricted: the payload runs
    marker = tmp_path / "payload-ran"
    touching = tmp_path / "touching.pth"
    torch.save({"x": _TouchPayload(marker)}, touching)
    with pytest.raises(CheckpointError, match="not allowed"):
        load_from_http(touching.as_uri(), map_location="cpu", model_dir=str(tmp_path / "c"))
    assert not marker.exists()
    compat.ORIGINALS["load_from_http"](touching.as_uri(), "cpu", str(tmp_path / "d"))
    assert marker.exists()


def test_rng_state_in_checkpoints_needs_no_extra_globals():
    from labcore.engine.hooks import capture_rng_state

    buffer = io.BytesIO()
    torch.save({"rng_state": capture_rng_state()}, buffer)
    buffer.seek(0)
    torch.load(buffer, weights_only=True)  # no allowlist needed


# --- data samples already on the model's device --------------------------------------


def test_cast_data_passes_samples_on_the_device_through_without_copies():
    from mmengine.model import ImgDataPreprocessor
    from mmengine.structures import BaseDataElement, InstanceData

    preprocessor = ImgDataPreprocessor()
    instances = InstanceData(metainfo={"img_shape": (4, 4)}, bboxes=torch.zeros(2, 4))
    sample = BaseDataElement(metainfo={"img_path": "a.jpg", "scale": [1.0]}, gt=instances)
    sample.label = torch.tensor([3])
    batch = {"inputs": [torch.zeros(3, 4, 4, dtype=torch.uint8)], "data_samples": [sample]}

    (patched,) = preprocessor.cast_data(batch)["data_samples"]
    copied = compat.ORIGINALS["BaseDataPreprocessor.cast_data"](preprocessor, sample)
    assert patched is sample  # MMEngine's copies it, metainfo deep-copied, to where it is
    assert copied is not sample and copied.metainfo["scale"] is not sample.metainfo["scale"]
    assert copied.metainfo == patched.metainfo and torch.equal(copied.label, patched.label)
    assert torch.equal(copied.gt.bboxes, patched.gt.bboxes)
    # something that .to() would move, or a tensor elsewhere, is still cast
    sample.other = np.zeros(1)
    assert preprocessor.cast_data(sample) is sample
    preprocessor._device = torch.device("meta")
    assert preprocessor.cast_data(sample).label.device.type == "meta"


def test_config_text_is_formatted_once_per_text():
    import mmengine.config.config as mm_config
    from mmengine.config import Config

    cfg = Config(dict(model=dict(type="Toy", depth=18, widths=[16, 32]), work_dir="w"))
    first, second = cfg.pretty_text, cfg.pretty_text
    assert first == second
    style = dict(based_on_style="pep8", blank_line_before_nested_class_or_def=True)
    text = "a = dict(b=1,   c=[1,2])\n"
    formatted = mm_config.FormatCode(text, style_config=style)
    assert mm_config.FormatCode(text, style_config=dict(style)) is formatted  # kept
    assert formatted == compat.ORIGINALS["FormatCode"](text, style_config=style)


VISUALIZER_WITHOUT_FIGURE = """
import sys
import labcore.engine.compat
from mmengine.visualization import Visualizer
labcore.engine.compat.apply()
visualizer = Visualizer(name="no-figure")
assert "matplotlib.figure" not in sys.modules, "the figure was made by __init__"
print(visualizer.dpi)
"""


def test_a_visualizer_makes_its_figure_when_first_drawn_and_draws_as_before():
    import subprocess
    import sys

    from mmengine.visualization import Visualizer

    done = subprocess.run(
        [sys.executable, "-c", VISUALIZER_WITHOUT_FIGURE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.strip() == "100.0", done.stderr[-3000:]
    image = np.zeros((24, 32, 3), np.uint8)
    drawn = []
    for name, eager in (("lazy", False), ("eager", True)):
        visualizer = Visualizer(name=f"figure-{name}", fig_save_cfg=dict(frameon=False, dpi=72))
        if eager:  # the figure as MMEngine makes it, before anything is drawn
            visualizer.__dict__["_lab_figure"] = list(
                compat.ORIGINALS["Visualizer._initialize_fig"](visualizer, visualizer.fig_save_cfg)
            )
        assert visualizer.dpi == 72
        visualizer.set_image(image)
        visualizer.draw_bboxes(np.array([[2, 3, 20, 15]]), edge_colors="r")
        drawn.append(visualizer.get_image())
    assert drawn[0].shape == (24, 32, 3) and drawn[0].any()
    np.testing.assert_array_equal(drawn[0], drawn[1])


# --- import labcore stays light; the fixes are applied when MMEngine is imported ------

LIGHT_IMPORT = """
import sys
import labcore, labcore.cli.main
assert "torch" not in sys.modules and "mmengine" not in sys.modules, "labcore is not light"
import labcore.registry  # loads MMEngine (and torch) while labcore.registry is importing
from labcore.engine import compat
import mmengine.utils
from mmengine.runner.checkpoint import CheckpointLoader
assert compat._applied and mmengine.utils.is_installed("labcore")
assert "zoo://" in CheckpointLoader._schemes
print("ok")
"""


def test_import_labcore_is_light_and_fixes_apply_when_mmengine_loads():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LIGHT_IMPORT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_a_plain_pickle_is_named_with_what_it_would_import(tmp_path):
    import fractions
    import pickle

    for name, content in (("plain", {"a": [1, 2]}), ("fraction", {"a": fractions.Fraction(1, 3)})):
        path = tmp_path / f"{name}.pkl"
        with open(path, "wb") as f:  # protocol 4+: torch's unpickler stops at FRAME (149)
            pickle.dump(content, f, protocol=4)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint_file(path)
        message = str(info.value)
        assert f"{name}.pkl" in message and "a plain Python pickle (protocol 4)" in message
        assert "Unsupported operand" not in message
    assert "that imports fractions.Fraction" in message
