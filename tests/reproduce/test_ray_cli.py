"""`diversa reproduce --backend ray`: the same numbers as loky, streamed trials, a two-node cluster."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

#: results.json keys that measure time, not the experiment.
TIMING = {"seconds", "cpu_seconds", "slowest_trial_seconds"}


def numbers(folder: Path) -> str:
    """results.json without the run's timings, date and command, as canonical JSON text."""
    payload = json.loads((folder / "results.json").read_text())
    papers = [{k: v for k, v in paper.items() if k not in TIMING} for paper in payload["reproductions"]]
    return json.dumps(papers, indent=1, sort_keys=True)


def test_ray_gives_byte_identical_numbers_to_loky_and_streams(tmp_path, monkeypatch):
    import diversa.reproduce as reproduce
    from diversa.cli import main
    from diversa.reproduce import runner

    assert main(["reproduce", "llmonade", "--quick", "--jobs", "2", "--out", str(tmp_path / "loky")]) == 0
    seen = []
    run = reproduce.run_reproductions

    def recording(*args, on_trial_done=None, **kwargs):
        def done(rid):
            seen.append((rid, ray.is_initialized()))
            on_trial_done(rid)
        return run(*args, on_trial_done=done, **kwargs)

    monkeypatch.setattr(reproduce, "run_reproductions", recording)
    monkeypatch.setattr(runner, "Parallel", None)  # joblib's collecting path would fail here
    assert main(["reproduce", "llmonade", "--quick", "--jobs", "2", "--backend", "ray",
                 "--out", str(tmp_path / "ray")]) == 0
    assert not ray.is_initialized()  # the local instance was shut down
    assert seen == [("llmonade", True)] * 10  # one progress step per trial, while Ray ran
    assert numbers(tmp_path / "ray") == numbers(tmp_path / "loky")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start(*options, env, log: Path):
    """A ``ray start --block`` node in its own process group (stopped with it, nothing else), once it is up."""
    command = [str(Path(sys.executable).with_name("ray")), "start", "--block", "--disable-usage-stats", *options]
    with open(log, "w") as out:
        node = subprocess.Popen(command, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while "Ray runtime started" not in log.read_text():
        assert node.poll() is None and time.monotonic() < deadline, f"ray start failed: {log.read_text()[-2000:]}"
        time.sleep(0.5)
    return node


def _stop(node) -> None:
    group = os.getpgid(node.pid)
    os.killpg(group, signal.SIGTERM)
    try:
        node.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)


#: Waits (in a separate driver) until the cluster has two live nodes and prints their CPUs.
_PROBE = """
import sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR")
deadline = time.monotonic() + 60
while sum(n["Alive"] for n in ray.nodes()) < 2 and time.monotonic() < deadline:
    time.sleep(0.5)
print(sum(n["Alive"] for n in ray.nodes()), ray.cluster_resources().get("CPU"), ray.cluster_resources().get("second_node"))
"""


@pytest.fixture
def two_node_cluster(tmp_path):
    """(address, environment) of a head and a worker node on this machine, one CPU each; the worker has
    its own custom resource.

    The cluster is private to the test and listens on loopback, so it runs without Ray's token
    authentication; its drivers run in their own processes with the same environment, because a
    process keeps the authentication mode of its first Ray cluster.
    """
    import diversa

    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(diversa.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH")]))}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    temp = tempfile.mkdtemp(prefix="dv-ray-")  # short: Ray's socket paths must fit in 107 bytes
    nodes = []
    try:
        nodes.append(_ray_start("--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                                "--include-dashboard=false", f"--ray-client-server-port={_free_port()}",
                                f"--temp-dir={temp}", env=env, log=tmp_path / "head.log"))
        nodes.append(_ray_start(f"--address={address}", "--node-ip-address=127.0.0.1", "--num-cpus=1",
                                '--resources={"second_node": 1}', env=env, log=tmp_path / "worker.log"))
        probe = subprocess.run([sys.executable, "-c", _PROBE, address], env=env, capture_output=True, text=True,
                               timeout=120)
        assert probe.stdout.split() == ["2", "2.0", "1.0"], probe.stderr[-2000:]
        yield address, env
    finally:
        for node in reversed(nodes):
            _stop(node)
        shutil.rmtree(temp, ignore_errors=True)


def test_two_reproductions_on_a_two_node_cluster(two_node_cluster, tmp_path):
    address, env = two_node_cluster
    for rid in ("llmonade", "rmm"):
        done = subprocess.run([sys.executable, "-m", "diversa.cli", "reproduce", rid, "--quick", "--backend", "ray",
                               "--address", address, "--out", str(tmp_path / rid)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert rid in done.stdout
        (paper,) = json.loads((tmp_path / rid / "results.json").read_text())["reproductions"]
        assert paper["id"] == rid and paper["n_units"] >= 8
        assert paper["verdict"] in ("supported", "contradicted", "inconclusive", "out of regime")
