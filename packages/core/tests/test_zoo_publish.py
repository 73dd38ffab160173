"""Publishing and loading end to end: a tiny model trained with MMEngine (EMA on) is
published to a real HTTP server (PUT), then downloaded, loaded and evaluated again;
it must reach exactly the metric its manifest entry records."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.hooks import EMAHook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import Dataset

from labcore import zoo
from labcore.engine.checkpoint import load_checkpoint_file
from labcore.registry import DATASETS, METRICS, MODELS
from labcore.zoo.manifest import read_manifest
from labcore.zoo.server import make_server, serve_in_thread


class ZooTestNet(BaseModel):
    """Linear -> BatchNorm -> ReLU -> Linear; inputs Tensor[B, in_features]."""

    def __init__(self, *, in_features: int = 8, num_classes: int = 3, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.fc1 = nn.Linear(in_features, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, num_classes)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        logits = self.fc2(F.relu(self.bn(self.fc1(inputs))))
        if mode == "loss":
            return {"loss": F.cross_entropy(logits, data_samples)}
        if mode == "predict":
            return list(zip(logits.argmax(1).tolist(), data_samples.tolist(), strict=True))
        return logits


class ZooTestBlobs(Dataset):
    """Three overlapping Gaussian blobs in 8-D: (Tensor[8], label)."""

    def __init__(self, *, seed: int, num: int = 96):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(num) % 3
        centres = torch.randn(3, 8, generator=torch.Generator().manual_seed(7))
        self.points = centres[self.labels] + 1.2 * torch.randn(num, 8, generator=g)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"inputs": self.points[i], "data_samples": self.labels[i]}


class ZooTestAccuracy(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results += [int(pred == label) for pred, label in data_samples]

    def compute_metrics(self, results):
        return {"accuracy": sum(results) / len(results)}


@pytest.fixture(scope="module", autouse=True)
def registered():
    """Register the test's classes in labcore's registries for this module only, so
    registry-driven tests elsewhere never see them."""
    added = [(MODELS, ZooTestNet), (DATASETS, ZooTestBlobs), (METRICS, ZooTestAccuracy)]
    for registry, cls in added:
        registry.register_module(name=cls.__name__, module=cls, force=True)
    yield
    for registry, cls in added:
        registry.module_dict.pop(cls.__name__, None)


def loader(seed: int) -> dict:
    return dict(
        dataset=dict(type="ZooTestBlobs", seed=seed),
        sampler=dict(type="InfiniteSampler" if seed == 0 else "DefaultSampler", shuffle=seed == 0),
        batch_size=16,
        collate_fn=dict(type="default_collate"),
    )


def evaluation(model, work_dir) -> dict:
    runner = Runner(
        model=model,
        work_dir=str(work_dir),
        val_dataloader=loader(seed=1),
        val_evaluator=dict(type="ZooTestAccuracy"),
        val_cfg=dict(),
        default_scope="labcore",
        experiment_name=f"zoo_eval_{work_dir.parent.name}",
    )
    return runner.val()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, registered):
    """Train ZooTestNet for 30 iterations with an EMA; return (checkpoint, EMA weights, metrics)."""
    work_dir = tmp_path_factory.mktemp("train")
    runner = Runner(
        model=dict(type="ZooTestNet"),
        work_dir=str(work_dir),
        train_dataloader=loader(seed=0),
        train_cfg=dict(by_epoch=False, max_iters=30, val_interval=30),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.2, momentum=0.9)),
        val_dataloader=loader(seed=1),
        val_evaluator=dict(type="ZooTestAccuracy"),
        val_cfg=dict(),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=30, by_epoch=False)),
        custom_hooks=[dict(type="EMAHook", momentum=0.2)],
        randomness=dict(seed=0),
        default_scope="labcore",
        experiment_name="zoo_train",
    )
    runner.train()  # validates the EMA weights at the end (runner.val() would not)
    metrics = {"accuracy": runner.message_hub.get_scalar("val/accuracy").current()}
    ema = next(h for h in runner.hooks if isinstance(h, EMAHook)).ema_model.module.state_dict()
    return work_dir / "iter_30.pth", ema, metrics


@pytest.fixture
def zoo_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", str(tmp_path / "manifests"))
    monkeypatch.setenv("OPENLAB_ZOO_BACKOFF", "0.01")
    monkeypatch.delenv("OPENLAB_ZOO_MIRRORS", raising=False)
    monkeypatch.delenv("OPENLAB_OFFLINE", raising=False)
    config = tmp_path / "zoo_test_net.py"
    config.write_text("default_scope = 'labcore'\nmodel = dict(type='ZooTestNet')\n")
    return tmp_path, config


@pytest.fixture
def upload_server(tmp_path):
    server = make_server(tmp_path / "served", allow_upload=True)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}", tmp_path / "served"
    server.shutdown()
    server.server_close()


def make_run(checkpoint, config, metrics, **overrides) -> zoo.ZooRun:
    fields = dict(
        name="zootest_tiny",
        codebase="labcore",
        config=str(config),
        protocol="zoo-test",
        protocol_version=2,
        checkpoint=checkpoint,
        metrics_mean={"accuracy": metrics["accuracy"] - 0.01},
        metrics_std={"accuracy": 0.02},
        seed=0,
        seeds=[0, 1, 2],
        seed_metrics=dict(metrics),
        task="image-classification",
        mlflow_run_id="0123abcd",
        flops=1234,
    )
    return zoo.ZooRun(**{**fields, **overrides})


def test_published_model_reaches_its_recorded_metric(trained, zoo_home, upload_server, monkeypatch):
    checkpoint, ema, metrics = trained
    tmp_path, config = zoo_home
    base, served = upload_server
    assert metrics["accuracy"] > 0.5  # trained: far above chance (1/3)
    (entry,) = zoo.publish_runs(
        [make_run(checkpoint, config, metrics)], base, manifest_dir=tmp_path / "manifests"
    )

    manifest = read_manifest(tmp_path / "manifests" / "labcore.yml")
    assert manifest.models == [entry]
    assert entry.weights.urls[0].startswith(base) and entry.weights.format == "safetensors"
    assert entry.params == sum(p.numel() for p in ZooTestNet().parameters())
    assert (entry.protocol.name, entry.protocol.version, entry.published_seed) == ("zoo-test", 2, 0)
    uploaded = served / entry.weights.path
    assert zoo.sha256_file(uploaded) == entry.weights.sha256
    assert uploaded.stat().st_size == entry.weights.size

    # model weights only (no optimizer, no pickle): the EMA weights, not the raw ones
    exported = load_file(str(uploaded))
    assert set(exported) == set(ema)
    assert all(torch.equal(exported[k], ema[k]) for k in ema)
    raw = load_checkpoint_file(checkpoint)["ema_state_dict"]
    assert not torch.equal(exported["fc1.weight"], raw["module.fc1.weight"])

    model = zoo.init_model("zootest_tiny")
    again = evaluation(model, tmp_path / "eval")
    assert again["accuracy"] == entry.metrics["accuracy"].published == metrics["accuracy"]
    assert zoo.cache_path(entry).is_file()

    monkeypatch.setenv("OPENLAB_OFFLINE", "1")  # from the cache only, even with the server gone
    (served / entry.weights.path).unlink()
    offline = zoo.init_model("zootest_tiny")
    assert all(torch.equal(offline.state_dict()[k], ema[k]) for k in ema)


def test_zoo_scheme_in_init_cfg_and_cached_verify(trained, zoo_home, upload_server, monkeypatch):
    checkpoint, ema, metrics = trained
    tmp_path, config = zoo_home
    zoo.publish_runs(
        [make_run(checkpoint, config, metrics)], upload_server[0], manifest_dir=tmp_path / "m2"
    )
    monkeypatch.setenv("OPENLAB_ZOO_MANIFESTS", str(tmp_path / "m2"))
    model = MODELS.build(
        dict(type="ZooTestNet", init_cfg=dict(type="Pretrained", checkpoint="zoo://zootest_tiny"))
    )
    model.init_weights()
    assert all(torch.equal(model.state_dict()[k], ema[k]) for k in ema)

    runner = Runner(  # load_from='zoo://NAME', with an EMAHook reading the loaded checkpoint
        model=dict(type="ZooTestNet"),
        work_dir=str(tmp_path / "load_from"),
        load_from="zoo://zootest_tiny",
        experiment_name=f"zoo_load_from_{tmp_path.name}",
        custom_hooks=[dict(type="EMAHook")],
        default_scope="labcore",
    )
    runner.call_hook("before_run")
    runner.load_or_resume()
    assert all(torch.equal(runner.model.state_dict()[k], ema[k]) for k in ema)

    cached = zoo.cache_path(zoo.find_entry("zootest_tiny"))
    cached.write_bytes(cached.read_bytes()[:-1] + b"!")  # corrupt the cached copy
    with pytest.raises(zoo.ChecksumError, match="expected [0-9a-f]{64}, got [0-9a-f]{64}"):
        zoo.load("zootest_tiny", verify=True)
    assert not cached.exists()
    assert set(zoo.load("zootest_tiny", verify=True)) == set(ema)  # downloaded again


def test_publish_to_folder_with_base_url_and_replace_entry(trained, zoo_home):
    checkpoint, _, metrics = trained
    tmp_path, config = zoo_home
    manifests = tmp_path / "manifests"
    first = zoo.publish_runs(
        [make_run(checkpoint, config, metrics)],
        tmp_path / "folder",
        manifest_dir=manifests,
        base_url="https://zoo.example.org/weights",
    )[0]
    assert first.weights.urls == [f"https://zoo.example.org/weights/{first.weights.path}"]
    assert (tmp_path / "folder" / first.weights.path).is_file()
    zoo.publish_runs(
        [make_run(checkpoint, config, metrics, name="zootest_other", seed=1)],
        (tmp_path / "folder2").as_uri(),
        manifest_dir=manifests,
    )
    names = [m.name for m in read_manifest(manifests / "labcore.yml").models]
    assert names == ["zootest_other", "zootest_tiny"]

    runs = [
        make_run(tmp_path / "missing.pth", config, metrics, name="zootest_missing"),
        make_run(checkpoint, config, metrics, name="zootest_third", task=None),
        make_run(checkpoint, config, metrics, name="zootest_fourth"),
    ]
    with pytest.raises(zoo.PublishError) as err:
        zoo.publish_runs(runs, tmp_path / "folder", manifest_dir=manifests)
    message = str(err.value)
    assert "2 of 3 runs could not be published" in message
    assert [e.name for e in err.value.entries] == ["zootest_fourth"]
    assert zoo.find_entry("zootest_fourth").weights.size > 0  # the good run is recorded
    assert "zootest_missing: checkpoint" in message and "missing.pth does not exist" in message
    assert "zootest_third: the task of 'zootest_third' is unknown" in message
    assert not (tmp_path / "folder" / "labcore" / "zootest_third").exists()  # nothing uploaded
    other = zoo.find_entry("zootest_other")
    assert other.weights.urls[0].startswith("file://") and other.published_seed == 1
    assert (
        zoo.load("zootest_other").keys()
        == load_file(str(tmp_path / "folder" / first.weights.path)).keys()
    )


def test_upload_refused_by_a_read_only_server_names_the_url(trained, zoo_home):
    checkpoint, _, metrics = trained
    tmp_path, config = zoo_home
    server = make_server(tmp_path / "read_only")  # no --allow-upload
    serve_in_thread(server)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(zoo.PublishError, match=f"upload to {base}/labcore/zootest_tiny/.* 405"):
            zoo.publish_runs([make_run(checkpoint, config, metrics)], base, manifest_dir=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert not (tmp_path / "labcore.yml").exists()  # nothing recorded for a failed upload


def test_publishing_into_the_repository_regenerates_the_docs(trained, zoo_home, monkeypatch):
    from labcore.zoo import settings

    checkpoint, _, metrics = trained
    tmp_path, config = zoo_home
    repository = tmp_path / "repo" / "model_zoo"
    monkeypatch.setattr(settings, "repository_model_zoo", lambda: repository)
    zoo.publish_runs(
        [make_run(checkpoint, config, metrics)], tmp_path / "w", manifest_dir=repository
    )
    docs = (tmp_path / "repo" / "docs" / "model_zoo.md").read_text()
    assert "`zootest_tiny`" in docs and "accuracy" in docs


def test_same_weights_and_metadata_give_the_same_file(tmp_path):
    """safetensors writes its metadata in hash-map order; the zoo's files must not
    depend on it, or republishing a model would change its sha256."""
    from safetensors import safe_open

    from labcore.zoo.download import sha256_file
    from labcore.zoo.weights import save_safetensors

    weights = {"b.weight": torch.randn(3, 4), "a.bias": torch.arange(5.0)}
    metadata = {f"key{i}": f"value{i}" for i in range(12)}
    digests = {
        sha256_file(save_safetensors(weights, tmp_path / f"w{i}.safetensors", metadata))
        for i in range(6)
    }
    assert len(digests) == 1
    with safe_open(tmp_path / "w0.safetensors", "pt") as f:
        assert f.metadata() == metadata
        assert torch.equal(f.get_tensor("b.weight"), weights["b.weight"])
