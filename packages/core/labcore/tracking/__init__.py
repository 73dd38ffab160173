"""The MLflow side of a training run, importable without torch or MMEngine.

- :mod:`~labcore.tracking.mlflow_sender`: the process that sends one run's records to
  MLflow, so that importing MLflow and opening its store happen beside training, not
  before its first iteration (``LabMLflowVisBackend`` starts and feeds it);
- :mod:`~labcore.tracking.mlflow_outbox`: what a run could not send while the tracking
  server was away, kept on disk until ``lab sync`` or the run itself sends it;
- :mod:`~labcore.tracking.mlflow_store`: new sqlite stores copied from a migrated
  template.
"""
