"""Issue 36: ``python -m bench pretrain`` is registered and checks its options before it trains anything."""

from __future__ import annotations

import pytest

from bench.__main__ import BENCHMARKS
from bench.pretrain_bench import SMALLEST, command, parse


def test_the_pretrain_bench_is_registered_and_refuses_a_skip_that_leaves_nothing_to_time():
    assert BENCHMARKS["pretrain"] == "bench.pretrain_bench"
    args = parse(" ".join(SMALLEST).split())
    assert (args.layers, args.steps, args.skip, args.sweep) == (1, 12, 2, False)
    assert command(["--sweep"]) == "python -m bench pretrain --sweep --write"
    for bad in (["--skip", "0"], ["--steps", "5", "--skip", "4"]):
        with pytest.raises(SystemExit):
            parse(bad)
