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
