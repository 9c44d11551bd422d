"""The rank import through a real Dask cluster (two worker processes) gives the serial import's numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")

JOB = Path(__file__).resolve().parents[1] / "data" / "kineto_ranks" / "hta_sampled_2rank"


def test_a_dask_local_cluster_gives_identical_numbers() -> None:
    serial = wb.load_kineto(JOB, save=False, workers=1)
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=40
    )
    try:
        with distributed.Client(cluster) as client:
            run = wb.load_kineto(JOB, save=False, executor=client.get_executor())
            workers = len(client.scheduler_info()["workers"])
    finally:
        cluster.close()
    assert workers == 2
    assert run.metrics["gpu"]["ranks"] == serial.metrics["gpu"]["ranks"]
    assert run.metrics["gpu"]["collectives"] == serial.metrics["gpu"]["collectives"]
    assert run.ops.equals(serial.ops)
