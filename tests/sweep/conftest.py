"""The sweep suites' shared fixture: a real 2-worker Dask LocalCluster on loopback, one per test module."""

import pytest


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as c:  # fmt: skip
        yield c
