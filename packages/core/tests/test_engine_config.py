"""labcore.engine.config: pkg:: config names and checked --cfg-options."""

from __future__ import annotations

from pathlib import Path

import pytest

import labcore
from labcore.engine import compat
from labcore.engine.config import load_config, resolve_config_path
from labcore.errors import ConfigError

RUNTIME = "labcore::_base_/default_runtime.py"


def test_package_name_resolves_inside_the_installed_package():
    path = resolve_config_path(RUNTIME)
    assert path == Path(labcore.__file__).parent / "configs" / "_base_" / "default_runtime.py"
    cfg = load_config(RUNTIME)
    assert cfg.default_hooks.checkpoint.type == "CheckpointHook"
    assert cfg.env_cfg.dist_cfg.backend == "auto"


def test_package_names_work_in_base_lists_where_mmengine_fails(tmp_path):
    config = tmp_path / "child.py"
    config.write_text(f"_base_ = ['{RUNTIME}']\ndefault_scope = 'labcls'\n")
    cfg = load_config(config)
    assert cfg.default_scope == "labcls"
    assert [h.type for h in cfg.custom_hooks] == ["RNGStateHook", "NonFiniteLossHook"]
    # MMEngine's own resolution knows only its MODULE2PACKAGE table and .mim folders
    with pytest.raises(AssertionError, match="does not support to load labcore config"):
        compat.ORIGINALS["Config._get_cfg_path"](RUNTIME, str(config))


def test_missing_packaged_config_lists_close_matches():
    with pytest.raises(ConfigError, match=r"Did you mean: labcore::_base_/default_runtime.py"):
        load_config("labcore::_base_/default_runtme.py")
    with pytest.raises(ConfigError, match="not installed"):
        load_config("labnothing::a/b.py")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("missing_folder/config.py")


def test_missing_base_inside_a_config_is_a_config_error(tmp_path):
    config = tmp_path / "child.py"
    config.write_text("_base_ = ['labcore::_base_/default_runtim.py']\n")
    with pytest.raises(ConfigError, match="default_runtime.py"):
        load_config(config)


def test_cfg_options_change_existing_keys_and_list_items(tmp_path):
    config = tmp_path / "c.py"
    config.write_text(
        "model = dict(type='M', depth=18)\npipeline = [dict(type='A'), dict(type='B', p=0.5)]\n"
    )
    cfg = load_config(config, {"model.depth": 50, "pipeline.1.p": 0.1, "+model.with_cp": True})
    assert cfg.model == dict(type="M", depth=50, with_cp=True)
    assert cfg.pipeline[1].p == 0.1 and cfg.pipeline[0].type == "A"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("model.detph", r"'detph' is not a key of model\. Did you mean: depth\?"),
        ("modle.depth", r"'modle' is not a key of the top level\. Did you mean: model\?"),
        ("pipeline.2.type", r"pipeline is a list of 2 items"),
        ("model.depth.x", r"model\.depth holds int 18, not a dict"),
    ],
)
def test_cfg_options_unknown_keys_are_refused(tmp_path, key, message):
    config = tmp_path / "c.py"
    config.write_text("model = dict(type='M', depth=18)\npipeline = [dict(type='A'), dict()]\n")
    with pytest.raises(ConfigError, match=message):
        load_config(config, {key: 1})
    with pytest.raises(ConfigError, match=rf"'\+{key}=\.\.\.'|must be an index|not a dict"):
        load_config(config, {key: 1})


def test_syntax_error_in_config_is_a_config_error(tmp_path):
    config = tmp_path / "broken.py"
    config.write_text("model = dict(type='M',\n")
    with pytest.raises(ConfigError, match="broken.py"):
        load_config(config)


def test_yaml_config_cannot_run_python(tmp_path):
    """MMEngine reads YAML configs with yaml's full loader, which runs `!!python` tags;
    OpenLab's safe loader refuses them and names the file and line."""
    marker = tmp_path / "marker"
    config = tmp_path / "cfg.yml"
    config.write_text(
        f"model:\n  type: Toy\nexploit: !!python/object/apply:os.system\n  - touch {marker}\n"
    )
    with pytest.raises(ConfigError, match=rf"{config}, line 3, column 10: .*python/object/apply"):
        load_config(config)
    assert not marker.exists()
    # the same through MMEngine's Config, as a _base_ of a Python config, and mmengine.load
    from mmengine import load
    from mmengine.config import Config

    child = tmp_path / "child.py"
    child.write_text("_base_ = ['cfg.yml']\n")
    with pytest.raises(ConfigError, match=rf"{config}, line 3"):
        Config.fromfile(str(child))
    with pytest.raises(Exception, match="python/object/apply"):
        load(str(config))
    assert not marker.exists()


def test_yaml_and_json_configs_still_load_as_data(tmp_path):
    from mmengine.config import Config

    (tmp_path / "a.yml").write_text("model:\n  type: Toy\n  sizes: !!python/tuple [1, 2]\n")
    (tmp_path / "b.json").write_text('{"_base_": ["a.yml"], "lr": 0.1}')
    cfg = load_config(tmp_path / "b.json")
    assert cfg.model.sizes == (1, 2) and cfg.lr == 0.1
    cfg.dump(str(tmp_path / "dumped.yml"))  # MMEngine writes tuples as !!python/tuple
    assert Config.fromfile(str(tmp_path / "dumped.yml")).model.sizes == (1, 2)


def test_lazy_import_config_with_stdlib_imports_in_a_virtualenv(tmp_path):
    """Inside a virtualenv MMEngine's _is_builtin_module('os') is False, so `import os`
    in a pure-Python config became a LazyObject and `os.path.join(...)` failed."""
    from mmengine.config.utils import _is_builtin_module

    assert _is_builtin_module("os") and _is_builtin_module("collections.abc")
    assert not _is_builtin_module("torch") and not _is_builtin_module(".base")
    config = tmp_path / "lazy.py"
    config.write_text(
        "import os\nfrom math import sqrt\nfrom torch.optim import SGD\n\n"
        "folder = os.path.join('data', 'train')\nscale = sqrt(4.0)\n"
        "optim_wrapper = dict(optimizer=dict(type=SGD, lr=0.1))\n"
    )
    cfg = load_config(config)
    assert cfg.folder == "data/train" and cfg.scale == 2.0
    assert "SGD" in str(cfg.optim_wrapper.optimizer.type)
