"""New sqlite MLflow stores, copied from a template instead of migrated from nothing.

MLflow builds the schema of a new sqlite store by running every one of its database
migrations, once per store: about 2 s on an idle 2-core machine and over 10 s on a busy
one, paid before the first iteration by every ``lab train`` with a new work dir, every
benchmark work dir and every test that tracks. :func:`prepare_store` makes a new store a
copy of a template instead (milliseconds). The template is made once per MLflow version,
by MLflow itself, in ``$OPENLAB_HOME/mlflow/``, without its default experiment: MLflow
creates that one when it first opens the copy, with the artifact location it would give
a store it had made itself. Anything that stops the template (a read-only home, a failed
migration) leaves the store to MLflow, as before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` tracking URI, else None."""
    if not uri.startswith(SQLITE_PREFIX):
        return None
    path = uri[len(SQLITE_PREFIX) :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def template_path() -> Path:
    """The template store of the installed MLflow version."""
    import mlflow

    from labcore.zoo.settings import home_folder

    return home_folder("mlflow") / f"store-template-mlflow-{mlflow.__version__}.db"


def _make_template(target: Path) -> None:
    """A store MLflow created and migrated, with its default experiment removed."""
    import mlflow

    scratch = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        client = mlflow.MlflowClient(tracking_uri=f"{SQLITE_PREFIX}{scratch}")
        client.search_experiments(max_results=1)  # creates and migrates the schema
        with contextlib.closing(sqlite3.connect(scratch)) as db:
            db.execute("DELETE FROM experiments WHERE experiment_id = 0")
            db.commit()
        os.replace(scratch, target)  # atomic: a concurrent maker writes the same content
    finally:
        scratch.unlink(missing_ok=True)


def prepare_store(uri: str) -> bool:
    """When ``uri`` is a sqlite store whose file does not exist yet, create the file from
    the template (made first if needed); True when it did. Never raises: a store that
    cannot be prepared is left to MLflow to create."""
    path = sqlite_path(uri)
    if path is None or path.exists():
        return False
    try:
        template = template_path()
        if not template.exists():
            _make_template(template)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(template, scratch)
            os.link(scratch, path)  # never over a store another process just created
        finally:
            scratch.unlink(missing_ok=True)
    except Exception:  # MLflow creates the store itself, as it would without a template
        return False
    return True
