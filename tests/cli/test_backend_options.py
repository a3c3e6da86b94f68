"""--backend and --address: on every command with parallel work, checked before any work starts."""

import sys
import types

import pytest

from diversa.cli import build_parser, main
from diversa.cli.backend import parallel_backend

COMMANDS = {
    "reproduce": ["reproduce", "smote", "--quick"],
    "tournament": ["tournament", "scores.csv"],
    "select": ["select", "data.jsonl", "--budget", "10", "--out", "selected.jsonl"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_commands_take_backend_and_address(name):
    args = build_parser().parse_args(COMMANDS[name] + ["--backend", "ray", "--address", "auto"])
    assert (args.backend, args.address) == ("ray", "auto")
    defaults = build_parser().parse_args(COMMANDS[name])
    assert (defaults.backend, defaults.address) == ("loky", None)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_ray_backend_without_ray_is_one_line(name, monkeypatch, capsys, tmp_path):
    # Fails if the missing package surfaced as a traceback, or only after the work had started.
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores.csv").write_text("model,a,b\nm1,1,2\nm2,2,1\nm3,3,3\n")
    (tmp_path / "data.jsonl").write_text("".join(f'{{"text": "row {i}"}}\n' for i in range(30)))
    import diversa.reproduce

    monkeypatch.setattr(diversa.reproduce, "run_reproductions", _never)
    assert main(COMMANDS[name] + ["--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("diversa: error: --backend ray needs the ray package: pip install 'diversa[ray]'")
    assert not (tmp_path / "selected.jsonl").exists()


def _never(*args, **kwargs):
    raise AssertionError("the work started before --backend was checked")


def test_address_needs_a_cluster_backend(capsys):
    assert main(["reproduce", "smote", "--quick", "--address", "auto"]) == 2
    assert "--address goes with --backend ray or dask" in capsys.readouterr().err


def test_loky_backend_leaves_joblib_as_it_is():
    from joblib.parallel import get_active_backend

    before = type(get_active_backend()[0])
    with parallel_backend(types.SimpleNamespace(backend="loky", address=None)):
        assert type(get_active_backend()[0]) is before


class _FakeRay(types.ModuleType):
    """Just enough of Ray to run the streaming loop in-process: tasks finish in submission order."""

    def __init__(self):
        super().__init__("ray")
        self.in_flight, self.most_in_flight, self.submitted = 0, 0, []

    def remote(self, **options):
        fake = self

        class Remote:
            def __init__(self, function):
                self.function = function

            def remote(self, *args):
                fake.in_flight += 1
                fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
                fake.submitted.append(args[:2])
                return lambda: self.function(*args)

        return Remote

    def wait(self, refs, num_returns):
        self.in_flight -= 1
        return refs[:1], refs[1:]

    def get(self, ref):
        return ref()


def test_reproduce_streams_trials_as_ray_tasks(monkeypatch):
    # Fails if the Ray path went through joblib (which collects everything before returning) or
    # ignored the longest-first order or the --jobs cap.
    from diversa.reproduce import runner

    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(runner, "_ray_backend_active", lambda: True)
    monkeypatch.setattr(runner, "Parallel", _never)
    monkeypatch.setattr(runner, "run_trial", lambda rid, seed, quick: (rid, seed, None, 0.0, 0.0))
    tasks = [("b", 0), ("b", 1), ("a", 0), ("a", 1), ("a", 2)]
    done = list(runner._run_in_parallel(tasks, True, 2))
    assert [d[:2] for d in done] == tasks == fake.submitted
    assert fake.most_in_flight == 2
