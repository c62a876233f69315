"""The load benchmark itself, small: two students for a few seconds against the test app."""

from __future__ import annotations

from bench import load_bench


def test_a_short_load_run_reports_every_endpoint_and_the_queue(app_url):
    markdown = load_bench.run(["--url", app_url, "--users", "2", "--seconds", "4", "--max-new-tokens", "2",
                               "--think-min", "0", "--think-max", "0.2",
                               "--mix", "tokenize=1,attention=1,generate=1,generate_tokens=1"])
    table = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| `/")}
    assert set(table) >= {"`/tokenize`", "`/attention`"}
    for row in table.values():
        requests, errors = (int(cell) for cell in row.split("|")[2:4])
        assert requests >= 1 and errors == 0, row
    assert "Target: zero errors, met" in markdown
    assert "Queue settings of the app under test (its `/server_info`): `max_size` 128" in markdown
    assert "`/attention` concurrency_limit 2 (concurrency_id `attention-forward`)" in markdown
