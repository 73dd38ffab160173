"""labcore.registry: children of MMEngine's registries with helpful unknown-type errors."""

from __future__ import annotations

import pytest
from mmengine.registry import MODELS as MMENGINE_MODELS
from torch import nn

from labcore.errors import LabError, UnknownTypeError
from labcore.registry import ALL, HOOKS, MODELS, VISBACKENDS, make_children


def test_every_registry_is_a_labcore_child_of_mmengine():
    for name, registry in ALL.items():
        assert registry.scope == "labcore", name
        assert registry.parent is not None and registry.parent.scope == "mmengine", name
    assert MODELS.parent is MMENGINE_MODELS


def test_engine_registers_its_hooks_and_backend():
    assert HOOKS.get("RNGStateHook").__name__ == "RNGStateHook"
    assert HOOKS.get("NonFiniteLossHook").__name__ == "NonFiniteLossHook"
    assert VISBACKENDS.get("LabMLflowVisBackend").__name__ == "LabMLflowVisBackend"
    assert HOOKS.get("CheckpointHook").__name__ == "CheckpointHook"  # from MMEngine


def test_unknown_type_names_close_matches_and_the_registries_searched():
    children = make_children("labtestscope", {"MODELS": []})
    with pytest.raises(UnknownTypeError) as info:
        children["MODELS"].get("CheckpointHok")
    message = str(info.value)
    assert "labtestscope::model -> labcore::model -> mmengine::model" in message
    with pytest.raises(UnknownTypeError, match=r"Did you mean: .*CheckpointHook"):
        HOOKS.get("CheckpointHok")
    assert isinstance(info.value, LabError) and isinstance(info.value, KeyError)


def test_child_registry_falls_back_to_labcore():
    children = make_children("labtestscope2", {})

    @MODELS.register_module(force=True)
    class RegistryTestNet(nn.Module):
        pass

    assert children["MODELS"].get("RegistryTestNet") is RegistryTestNet
    with pytest.raises(ValueError, match="unknown registries"):
        make_children("labtestscope3", {"MODLES": []})


def test_a_codebase_on_a_codebase_resolves_through_its_parent():
    parent = make_children("labtestparent", {"MODELS": []})

    @parent["MODELS"].register_module(force=True)
    class ParentOnlyNet(nn.Module):
        pass

    children = make_children("labtestonparent", {"MODELS": []}, parent="labtestparent")
    assert children["MODELS"].parent.scope == "labtestparent"
    assert children["MODELS"].get("ParentOnlyNet") is ParentOnlyNet
    assert children["MODELS"].get("ResNet").__module__.startswith("labcore.")  # via the parent
    with pytest.raises(ValueError, match="import labnothing.registry"):
        make_children("labtestonnothing", {}, parent="labnothing")


def test_arguments_a_type_does_not_accept_are_refused_before_building():
    from labcore.errors import ConfigError

    built = []

    @MODELS.register_module(force=True)
    class RegistryArgsNet(nn.Module):
        def __init__(self, *, width: int, depth: int = 2):
            super().__init__()
            built.append((width, depth))

    with pytest.raises(ConfigError, match=r"RegistryArgsNet'.*'dpeth'.*Did you mean: depth"):
        MODELS.build(dict(type="RegistryArgsNet", width=4, dpeth=3))
    with pytest.raises(ConfigError, match="missing a required argument: 'width'"):
        MMENGINE_MODELS.build(dict(type="RegistryArgsNet", _scope_="labcore"))  # a root too
    assert built == []  # refused before the constructor ran
    MODELS.build(dict(type="RegistryArgsNet", width=4))
    assert built == [(4, 2)]
