"""Speed comparisons of diversa against its anchor libraries, run in one process.

Each ``bench_<name>.py`` module exposes ``run(quick: bool = False) -> list[dict]``
whose rows carry ``name``, ``diversa_s``, ``anchor``, ``anchor_s`` and
``ratio`` (diversa time / anchor time; below 1 means diversa is faster).
"""
