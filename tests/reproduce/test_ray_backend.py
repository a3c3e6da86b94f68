"""Reproductions spread over a Ray cluster through joblib (optional extra ``diversa[ray]``)."""

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def test_trials_run_on_the_ray_backend():
    from joblib import parallel_config
    from ray.util.joblib import register_ray

    from diversa.reproduce import run_reproductions

    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        with parallel_config(backend="ray"):
            (result,) = run_reproductions(["smote"], quick=True, n_seeds=2, n_jobs=2)
        local, = run_reproductions(["smote"], quick=True, n_seeds=2, n_jobs=1)
    finally:
        ray.shutdown()
    # The trials are deterministic, so the cluster must give the same numbers as a local run.
    assert [c.baseline_values for c in result.checks] == [c.baseline_values for c in local.checks]
    assert [c.method_values for c in result.checks] == [c.method_values for c in local.checks]
