"""Discovery: codebases come from entry points; metafiles register configs."""

from __future__ import annotations

import pytest

from labbench.discovery import discover_codebases, read_metafile, registered_configs
from labcore.errors import ConfigError


def test_installed_codebases_are_found_through_entry_points():
    codebases = discover_codebases()
    assert {"labcls", "labdet"} <= set(codebases)
    assert (codebases["labcls"] / "configs").is_dir()


def test_metafile_models_with_protocols_are_registered(toy_world):
    entries = {e.name: e for e in registered_configs()}
    assert set(entries) == {  # toy_unlisted has no protocol
        "toy_a", "toy_b", "toy_fail", "toy_override", "toy_finetune", "toy_after_fail",
        "toy_slow", "toy_wide_slow",
    }  # fmt: skip
    a = entries["toy_a"]
    assert a.config == "benchtoy::tiny/toy_a.py" and a.path.is_file()
    assert a.protocols == ("toy-tiny",) and a.paper_url == "https://example.org/toy"


def test_metafile_naming_a_missing_config_is_an_error(tmp_path):
    (tmp_path / "configs").mkdir()
    metafile = tmp_path / "configs" / "metafile.yml"
    metafile.write_text("Models:\n  - {Name: m, Config: nope/m.py, Protocols: [p]}\n")
    with pytest.raises(ConfigError, match="names config 'nope/m.py', which does not exist"):
        read_metafile(metafile, "pkg", tmp_path)
