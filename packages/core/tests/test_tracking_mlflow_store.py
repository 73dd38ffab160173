"""labcore.tracking.mlflow_store: a new sqlite store copied from the migrated template is
the store MLflow would have made: the same schema revision and tables, a default
experiment at the location MLflow gives it, runs that log and read back."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from mlflow import MlflowClient

from labcore.tracking.mlflow_store import prepare_store, sqlite_path, template_path


def tables(path) -> dict[str, object]:
    """Every table with its columns (name, type, not null, primary key), and the schema
    revision. (The DDL text itself may list a CHECK constraint's values in another order
    from one process to the next.)"""
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        schema = {
            name: sorted(
                (c[1], c[2], c[3], c[5]) for c in db.execute(f'PRAGMA table_info("{name}")')
            )
            for (name,) in names
        }
        schema["alembic"] = db.execute("SELECT version_num FROM alembic_version").fetchall()
    return schema


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLAB_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_copied_store_equals_one_mlflow_makes(home):
    fresh, copied = home / "fresh" / "mlflow.db", home / "copied" / "mlflow.db"
    fresh.parent.mkdir()
    MlflowClient(tracking_uri=f"sqlite:///{fresh}").search_experiments()
    assert prepare_store(f"sqlite:///{copied}") and template_path().is_file()
    assert tables(copied) == tables(fresh)

    clients = [MlflowClient(tracking_uri=f"sqlite:///{p}") for p in (fresh, copied)]
    defaults = [c.get_experiment("0") for c in clients]
    assert [(e.name, e.artifact_location) for e in defaults] == [
        ("Default", str(home / "mlruns" / "0"))
    ] * 2
    for client in clients:
        experiment = client.create_experiment("openlab")
        run = client.create_run(experiment).info.run_id
        client.log_metric(run, "loss", 0.5, step=3)
        assert [(m.step, m.value) for m in client.get_metric_history(run, "loss")] == [(3, 0.5)]


def test_existing_stores_and_other_uris_are_left_alone(home):
    store = home / "mlflow.db"
    store.write_bytes(b"not touched")
    assert not prepare_store(f"sqlite:///{store}")
    assert store.read_bytes() == b"not touched"
    assert not prepare_store("http://127.0.0.1:5000")
    assert sqlite_path("sqlite:///:memory:") is None


def test_an_unusable_home_leaves_the_store_to_mlflow(home, monkeypatch):
    (home / "file").write_text("")
    monkeypatch.setenv("OPENLAB_HOME", str(home / "file" / "home"))  # under a file
    store = home / "new.db"
    assert not prepare_store(f"sqlite:///{store}") and not store.exists()
    MlflowClient(tracking_uri=f"sqlite:///{store}").search_experiments()
    assert store.exists()
