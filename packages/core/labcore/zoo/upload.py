"""Upload a weights file to a zoo destination and return the URL users download it from.

Destinations:

* a folder, or a ``file://`` URL: the file is copied (atomically) to
  ``<folder>/<relative path>``; the recorded URL is its ``file://`` URL unless a
  ``base_url`` says where that folder is served (``https://example.org/zoo``);
* an ``http://`` / ``https://`` base URL: the file is sent with ``PUT`` to
  ``<base>/<relative path>`` (any static server that accepts PUT, e.g. ``lab zoo serve
  --allow-upload``, nginx with WebDAV, an object store's pre-authorised endpoint);
* ``mlflow`` or ``mlflow:<tracking URI>``: the file is logged as an artifact of the
  training run (or of a new run in the ``openlab-zoo`` experiment) and registered as a
  version of the registered model called like the zoo entry; the recorded URL is
  ``models:/<name>/<version>``, resolved against ``MLFLOW_TRACKING_URI`` on download.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from labcore.zoo import settings
from labcore.zoo.download import USER_AGENT, local_path
from labcore.zoo.errors import PublishError

MLFLOW_EXPERIMENT = "openlab-zoo"


def destination_kind(dest: str) -> str:
    """'folder', 'http' or 'mlflow'."""
    if dest == "mlflow" or dest.startswith("mlflow:"):
        return "mlflow"
    scheme = urllib.parse.urlparse(dest).scheme
    if scheme in ("http", "https"):
        return "http"
    if scheme in ("file", ""):
        return "folder"
    raise PublishError(
        f"unsupported destination '{dest}': use a folder, file://, http(s):// or mlflow[:URI]"
    )


def upload(
    file: str | Path,
    relative_path: str,
    dest: str,
    *,
    base_url: str | None = None,
    model_name: str | None = None,
    mlflow_run_id: str | None = None,
) -> str:
    """Upload ``file`` to ``dest`` under ``relative_path``; return the download URL."""
    file = Path(file)
    kind = destination_kind(dest)
    if kind == "folder":
        target = local_path(dest) / relative_path
        _copy_atomically(file, target)
        url = target.resolve().as_uri()
    elif kind == "http":
        url = f"{dest.rstrip('/')}/{relative_path}"
        _put(file, url)
    else:
        tracking_uri = dest.partition(":")[2] or None
        return _register_in_mlflow(
            file, model_name or file.stem, tracking_uri=tracking_uri, run_id=mlflow_run_id
        )
    return f"{base_url.rstrip('/')}/{relative_path}" if base_url else url


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _put(file: Path, url: str) -> None:
    size = file.stat().st_size
    with open(file, "rb") as body:
        request = urllib.request.Request(
            url,
            data=body,
            method="PUT",
            headers={
                "Content-Length": str(size),
                "Content-Type": "application/octet-stream",
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout()) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            raise PublishError(
                f"upload to {url} failed: HTTP {err.code} {err.reason}; the server must accept "
                f"PUT there (e.g. `lab zoo serve DIR --allow-upload`)"
            ) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise PublishError(f"upload to {url} failed: cannot connect ({reason})") from None
    if status not in (200, 201, 204):
        raise PublishError(f"upload to {url} failed: unexpected HTTP status {status}")


def _register_in_mlflow(
    file: Path, model_name: str, *, tracking_uri: str | None, run_id: str | None
) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        run = client.get_run(run_id) if run_id else None
    except MlflowException:
        run = None  # the training run lives in another tracking store
    try:
        if run is None:
            experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
            experiment_id = (
                experiment.experiment_id
                if experiment
                else client.create_experiment(MLFLOW_EXPERIMENT)
            )
            tags = {"openlab.source_run_id": run_id} if run_id else {}
            run = client.create_run(experiment_id, run_name=model_name, tags=tags)
            client.set_terminated(run.info.run_id)
        artifact_dir = f"zoo/{model_name}"
        client.log_artifact(run.info.run_id, str(file), artifact_path=artifact_dir)
        with contextlib.suppress(MlflowException):  # already registered: add a version
            client.create_registered_model(model_name)
        version = client.create_model_version(
            model_name, source=f"{run.info.artifact_uri}/{artifact_dir}", run_id=run.info.run_id
        )
    except MlflowException as err:
        raise PublishError(
            f"registering {model_name} in MLflow ({tracking_uri or mlflow.get_tracking_uri()}) "
            f"failed: {str(err).splitlines()[0]}"
        ) from None
    return f"models:/{model_name}/{version.version}"
