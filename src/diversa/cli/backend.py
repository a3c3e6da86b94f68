"""``--backend`` and ``--address``: where a command's joblib workers run.

``loky`` (the default) uses local processes; ``ray`` spreads the work over a
Ray cluster (``--address ray://host:10001`` or ``auto`` joins a running one,
otherwise a local Ray instance is started for the command and shut down
after it); ``dask`` over a Dask cluster (``--address tcp://host:8786``, else
a local one). Both are selected through :func:`joblib.parallel_config`, so
every ``Parallel`` inside the command follows them.
"""

from __future__ import annotations

import contextlib
import functools
import importlib

from diversa.cli.errors import UserError

BACKENDS = ("loky", "ray", "dask")

#: The pip extra that brings each non-default backend.
_EXTRAS = {"ray": ("ray", "pip install 'diversa[ray]'"), "dask": ("distributed", "pip install distributed")}


def add_backend_options(parser) -> None:
    """Add ``--backend`` and ``--address`` to a subcommand's parser."""
    parser.add_argument("--backend", default="loky", choices=BACKENDS,
                        help="where parallel workers run: local processes (loky), a Ray or a Dask cluster")
    parser.add_argument("--address", default=None, metavar="ADDR",
                        help="cluster to join with --backend ray (ray://host:10001 or auto) or dask "
                             "(tcp://host:8786); default: start a local one for this command")


def check_backend(args) -> None:
    """Refuse an ``--address`` without a cluster backend, or a backend whose package is missing."""
    backend = getattr(args, "backend", "loky")
    if args.address is not None and backend == "loky":
        raise UserError("--address goes with --backend ray or dask, not loky")
    if backend in _EXTRAS:
        module, install = _EXTRAS[backend]
        try:
            importlib.import_module(module)
        except ImportError:
            raise UserError(f"--backend {backend} needs the {module} package: {install}") from None


@contextlib.contextmanager
def parallel_backend(args):
    """Run the body with joblib on the backend ``args`` name (started and stopped here if local)."""
    check_backend(args)
    backend = getattr(args, "backend", "loky")
    if backend == "loky":
        yield
    elif backend == "ray":
        with _ray_cluster(args.address):
            from joblib import parallel_config

            with parallel_config(backend="ray"):
                yield
    else:
        with _dask_cluster(args.address):
            from joblib import parallel_config

            with parallel_config(backend="dask"):
                yield


@contextlib.contextmanager
def _ray_cluster(address):
    import ray
    from ray.util.joblib import register_ray

    register_ray()
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level="ERROR", configure_logging=True)
        except ConnectionError as exc:
            raise UserError(f"--address {address}: cannot connect to a Ray cluster ({exc})") from None
    try:
        yield
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def _dask_cluster(address):
    from distributed import Client

    try:
        client = Client(address) if address else Client(processes=True, dashboard_address=None)
    except OSError as exc:
        raise UserError(f"--address {address}: cannot connect to a Dask scheduler ({exc})") from None
    with client:
        yield


def with_backend(handler):
    """``handler(args)`` run inside :func:`parallel_backend` (for a subcommand's ``set_defaults``)."""

    @functools.wraps(handler)
    def run(args) -> int:
        with parallel_backend(args):
            return handler(args)

    return run
