"""A toy codebase and protocol for the harness's tests.

``toy_world`` writes a small codebase package ``benchtoy`` (registry, a tiny classifier,
a dataset of 16x16 images written by a generator, an accuracy metric, configs and a
metafile) and a protocol ``toy-tiny`` into a temporary folder, makes them importable in
this process and in worker processes, and registers the codebase by replacing the
entry-point discovery.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTRY = """
from labcore.registry import make_children

_REGISTRIES = make_children(
    "benchtoy",
    {"MODELS": ["benchtoy.models"], "DATASETS": ["benchtoy.data"], "METRICS": ["benchtoy.data"]},
)
MODELS = _REGISTRIES["MODELS"]
DATASETS = _REGISTRIES["DATASETS"]
METRICS = _REGISTRIES["METRICS"]
"""

MODELS = '''
import time

import torch
from mmengine.model import BaseModel
from torch import nn

from benchtoy.registry import MODELS


@MODELS.register_module()
class ToyClassifier(BaseModel):
    """conv -> relu -> global pool -> linear, on Tensor[B, 3, H, W]."""

    def __init__(self, *, width=8, num_classes=4, fail_at_iter=None, delay_s=0.0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.fc = nn.Linear(width, num_classes)
        self.fail_at_iter = fail_at_iter
        self.delay_s = delay_s  # a slow step, so a test can stop a run in the middle
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode="tensor"):
        x = torch.relu(self.conv(inputs.float())).mean(dim=(2, 3))
        logits = self.fc(x)
        if mode == "tensor":
            return logits
        if mode == "loss":
            self.calls += 1
            time.sleep(self.delay_s)
            if self.fail_at_iter is not None and self.calls >= self.fail_at_iter:
                raise RuntimeError(f"toy failure at iteration {self.calls}")
            return {"loss": nn.functional.cross_entropy(logits, data_samples)}
        return [{"pred": int(p), "gt": int(t)} for p, t in zip(logits.argmax(1), data_samples)]
'''

DATA = '''
import os
from pathlib import Path

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from benchtoy.registry import DATASETS, METRICS


def make_blobs(task, *, seed=0, num_train=32, num_val=16, image_size=16, root=None):
    """Images whose class is the colour channel that is bright, plus noise."""
    root = Path(root or os.environ["BENCHTOY_DATA"]) / f"{task}-{seed}-{num_train}-{num_val}-{image_size}"
    if (root / "val.npz").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, count in (("train", num_train), ("val", num_val)):
        labels = rng.integers(0, 4, count)
        images = rng.normal(0.0, 1.0, (count, 3, image_size, image_size)).astype("float32")
        for i, label in enumerate(labels):
            if label < 3:
                images[i, label] += 1.5
        np.savez(root / f"{split}.npz", images=images, labels=labels)
    return root


@DATASETS.register_module()
class ToyDataset(torch.utils.data.Dataset):
    def __init__(self, *, data_root, split):
        data = np.load(Path(data_root) / f"{split}.npz")
        self.images = torch.from_numpy(data["images"])
        self.labels = torch.from_numpy(data["labels"]).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return {"inputs": self.images[index], "data_samples": self.labels[index]}


@METRICS.register_module()
class ToyAccuracy(BaseMetric):
    default_prefix = "accuracy"

    def process(self, data_batch, data_samples):
        self.results.extend(s["pred"] == s["gt"] for s in data_samples)

    def compute_metrics(self, results):
        return {"top1": float(sum(results)) / len(results)}
'''

CONFIG_BASE = """
_base_ = ["labcore::_base_/default_runtime.py"]
default_scope = "benchtoy"
model = dict(type="ToyClassifier", width={width}{extra})
optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.05, momentum=0.9))
train_dataloader = dict(num_workers=0, collate_fn=dict(type="default_collate"))
val_dataloader = dict(batch_size=16, num_workers=0, collate_fn=dict(type="default_collate"))
val_evaluator = dict(type="ToyAccuracy")
default_hooks = dict(logger=dict(type="LoggerHook", interval=4))
{tail}
"""

METAFILE = """
Collections:
  - Name: Toy
    Paper: {Title: A Toy Network, URL: https://example.org/toy}
Models:
  - Name: toy_a
    Config: tiny/toy_a.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-tiny]
  - Name: toy_b
    Config: tiny/toy_b.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-tiny]
  - Name: toy_fail
    Config: tiny/toy_fail.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-tiny]
  - Name: toy_override
    Config: tiny/toy_override.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-tiny]
  - Name: toy_unlisted
    Config: tiny/toy_a.py
    Task: image-classification
  - Name: toy_finetune
    Config: tiny/toy_finetune.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-finetune]
  - Name: toy_after_fail
    Config: tiny/toy_after_fail.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-finetune]
  - Name: toy_slow
    Config: tiny/toy_slow.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-resume]
  - Name: toy_wide_slow
    Config: tiny/toy_wide_slow.py
    Collection: Toy
    Task: image-classification
    Protocols: [toy-resume]
"""

PROTOCOL = """
name: toy-tiny
version: 3
tiny: true
task: image-classification
description: Toy blobs, 16x16, 8 iterations at batch 8.
dataset:
  name: toy-blobs
  version: 1
  generator: "benchtoy.data:make_blobs"
  synthetic: {task: cls, seed: 0, num_train: 32, num_val: 16, image_size: 16}
input_size: [16, 16]
budget: {max_iters: 8, batch_size: 8}
checkpoint_interval: 4
metric: {key: accuracy/top1, name: top1, greater_is_better: true}
seeds: [0, 1]
deterministic: true
estimate_s: 10
baseline: toy_a
fixed:
  train_dataloader:
    sampler: {type: DefaultSampler, shuffle: true}
    dataset: {type: ToyDataset, data_root: "${data_root}", split: train}
  val_dataloader:
    sampler: {type: DefaultSampler, shuffle: false}
    dataset: {type: ToyDataset, data_root: "${data_root}", split: val}
  val_cfg: {}
dry_run:
  synthetic: {task: cls, seed: 0, num_train: 8, num_val: 4, image_size: 16}
  subset: false
  iters: 2
  batch_size: 2
"""


@dataclass
class ToyWorld:
    root: Path
    package: Path
    protocols: Path
    data: Path


def write_toy_world(root: Path) -> ToyWorld:
    package = root / "src" / "benchtoy"
    (package / "configs" / "tiny").mkdir(parents=True)
    (package / "__init__.py").write_text('"""A toy codebase for labbench tests."""\n')
    (package / "registry.py").write_text(REGISTRY)
    (package / "models.py").write_text(MODELS)
    (package / "data.py").write_text(DATA)
    configs = package / "configs" / "tiny"
    configs.joinpath("toy_a.py").write_text(CONFIG_BASE.format(width=8, extra="", tail=""))
    configs.joinpath("toy_b.py").write_text(CONFIG_BASE.format(width=16, extra="", tail=""))
    configs.joinpath("toy_fail.py").write_text(
        CONFIG_BASE.format(width=8, extra=", fail_at_iter=3", tail="")
    )
    configs.joinpath("toy_override.py").write_text(
        CONFIG_BASE.format(
            width=8,
            extra="",
            tail='train_dataloader.update(sampler=dict(type="DefaultSampler", shuffle=False))',
        )
    )
    configs.joinpath("metafile.yml").write_text(textwrap.dedent(METAFILE))
    for name, upstream in (("toy_finetune", "toy_a"), ("toy_after_fail", "toy_fail")):
        init = f', init_cfg=dict(type="Pretrained", checkpoint="zoo://{upstream}")'
        configs.joinpath(f"{name}.py").write_text(CONFIG_BASE.format(width=8, extra=init, tail=""))
    configs.joinpath("toy_slow.py").write_text(
        CONFIG_BASE.format(width=8, extra=", delay_s=0.15", tail="")
    )
    configs.joinpath("toy_wide_slow.py").write_text(
        CONFIG_BASE.format(width=16, extra=", delay_s=0.15", tail="")
    )
    protocols = root / "protocols"
    protocols.mkdir()
    (protocols / "toy-tiny.yaml").write_text(PROTOCOL)
    # a second tiny protocol whose configs start from the weights of toy-tiny's
    finetune = PROTOCOL.replace("name: toy-tiny", "name: toy-finetune")
    finetune = finetune.replace("version: 3", "version: 1").replace(
        "baseline: toy_a", "baseline: toy_finetune"
    )
    (protocols / "toy-finetune.yaml").write_text(finetune)
    # a longer run with checkpoints every 6 iterations, to be killed in the middle
    resume = PROTOCOL.replace("name: toy-tiny", "name: toy-resume").replace(
        "version: 3", "version: 1"
    )
    resume = resume.replace("max_iters: 8,", "max_iters: 24,").replace(
        "checkpoint_interval: 4", "checkpoint_interval: 6"
    )
    resume = resume.replace("baseline: toy_a", "baseline: toy_slow").replace(
        "seeds: [0, 1]", "seeds: [0]"
    )
    (protocols / "toy-resume.yaml").write_text(resume)
    data = root / "data"
    data.mkdir()
    return ToyWorld(root=root, package=package, protocols=protocols, data=data)


LAUNCH = """
import sys
from pathlib import Path

from labbench import cli, discovery

discovery.discover_codebases = lambda: {{"benchtoy": Path({package!r})}}
discovery.discover_projects = lambda: []
sys.exit(cli.main(sys.argv[1:]))
"""


def sweep_process(world: ToyWorld, *args: str, **popen) -> subprocess.Popen:
    """``labbench ARGS`` in a process of its own, with the toy codebase registered (as
    :func:`toy_environment` does in this one); stdout and stderr together."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(world.package.parent), env.get("PYTHONPATH")])
        ),
        OPENLAB_PROTOCOLS=str(world.protocols),
        BENCHTOY_DATA=str(world.data),
        PYTHONUNBUFFERED="1",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    code = LAUNCH.format(package=str(world.package))
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


@pytest.fixture(scope="session")
def start_sweep():
    """:func:`sweep_process`: ``start_sweep(world, *args)`` starts a sweep process."""
    return sweep_process


@pytest.fixture(scope="session")
def toy_world_files(tmp_path_factory) -> ToyWorld:
    return write_toy_world(tmp_path_factory.mktemp("toyworld"))


@contextlib.contextmanager
def toy_environment(world: ToyWorld):
    """The toy codebase registered and importable, here and in worker processes. Its
    modules stay imported afterwards: MMEngine registries cannot register a scope twice."""
    from labbench import discovery

    src = str(world.package.parent)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(src)
        pythonpath = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
        patch.setenv("PYTHONPATH", pythonpath)
        patch.setenv("OPENLAB_PROTOCOLS", str(world.protocols))
        patch.setenv("BENCHTOY_DATA", str(world.data))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setattr(discovery, "discover_codebases", lambda: {"benchtoy": world.package})
        patch.setattr(discovery, "discover_projects", lambda: [])
        yield world


@pytest.fixture(scope="session")
def toy_env():
    """:func:`toy_environment`, for module-scoped fixtures."""
    return toy_environment


@pytest.fixture
def toy_world(toy_world_files: ToyWorld):
    with toy_environment(toy_world_files) as world:
        yield world


def leaderboard_records(protocol: str, values: dict[str, list[float]]):
    """Per-seed records as :func:`labbench.leaderboard.records_from_mlflow` returns them: a
    finished run per (config, seed) with the metric of ``values[config][seed]``, logged to
    an MLflow server; config ``base`` has 2 GFLOPs, the others 1; ``better`` expects
    [0.5, 0.9], the others [0.8, 0.9]."""
    import pandas as pd

    from labbench.leaderboard import RECORD_COLUMNS

    rows = []
    for config, metrics in values.items():
        for seed, metric in enumerate(metrics):
            row = dict.fromkeys(RECORD_COLUMNS, "")
            row.update(
                protocol=protocol, protocol_version=1, config=config, codebase="labcls", seed=seed,
                status="finished", metric=metric, train_time_s=10.0 + seed, peak_memory_mb=100.0,
                params=1e6, flops=2e9 if config == "base" else 1e9, paper_title="P",
                paper_url="https://example.org/p", tracking_uri="http://mlflow:5000",
                experiment_id="1", run_id=f"{config}{seed}", parent_run_id=f"{config}-parent",
                curve=[(1, 2.0), (2, 1.0 + seed)],
                expected={"top1": [0.5, 0.9] if config == "better" else [0.8, 0.9]},
            )  # fmt: skip
            rows.append(row)
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


@pytest.fixture(scope="session")
def make_records():
    """:func:`leaderboard_records`: ``make_records(protocol, {config: [metric per seed]})``."""
    return leaderboard_records
