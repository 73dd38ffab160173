"""``lab info``: versions of the stack, CUDA availability and the compiled ops."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import torch

from labcore.cli.info import collect_info
from labcore.cli.main import main


def test_info_lists_versions_cuda_and_ops(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("python", "torch", "torchvision", "mmengine", "mlflow", "cuda_available"):
        assert any(line.split()[0] == key for line in out.splitlines()), key
    assert torch.__version__.split("+")[0] in out
    assert importlib.metadata.version("mmengine") in out
    assert "compiled_ops" in out


def test_info_json_matches_the_environment():
    info = collect_info()
    assert info["python"] == sys.version.split()[0]
    assert info["cuda_available"] == torch.cuda.is_available()
    assert info["mlflow"] == importlib.metadata.version("mlflow")
    assert {"labcls", "labdet"} <= set(info["codebases"]) and "labcore" not in info["codebases"]
    assert json.loads(json.dumps(info, default=str))["torchvision"] == importlib.metadata.version(
        "torchvision"
    )
    assert info["compiled_ops"] == "not built" or isinstance(info["compiled_ops"], (dict, str))


def test_info_without_the_extension_still_prints_the_versions():
    # as test_ops_extension.py: a None entry in sys.modules makes `import labcore._C` fail
    code = (
        "import sys\n"
        "sys.modules['labcore._C'] = None\n"
        "from labcore.cli.main import main\n"
        "raise SystemExit(main(['info']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert torch.__version__.split("+")[0] in lines["torch"]
    assert importlib.metadata.version("mmengine") in lines["mmengine"]
    ops = lines["compiled_ops"]
    assert "not built (labcore's compiled ops (labcore._C) could not be loaded" in ops
    assert "nox -s ops" in ops and "pip install --no-build-isolation" in ops
