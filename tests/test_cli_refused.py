"""HTTP from the shell: refused requests end with exit 2 and say how to answer them (--http), and a
failure found with an HTTP mock asks for it on replay (trial findings)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaosdurable.cli import EXIT_USAGE, main


def test_check_of_a_handler_whose_http_is_refused_is_a_usage_error_with_a_hint(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "tests.cli_http_handlers:notifies", "--input", "{}"])
    out = capsys.readouterr().out
    assert code == EXIT_USAGE, out
    assert "chaosdurable refused them" in out and "POST pay.example.test/charge" in out
    assert "--http module:attribute" in out and "--allow-host HOST" in out
    assert "Traceback" not in out


def test_check_with_an_http_mock_from_the_shell_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "tests.cli_http_handlers:notifies", "--input", "{}", "--http",
                 "tests.cli_http_handlers:pay_mock"])
    out = capsys.readouterr().out
    assert code == 1, out  # answered: the POST outside a step is now a finding, not a refusal
    assert "[effects_outside_steps] effect 'http:POST pay.example.test/charge'" in out, out


def test_replay_of_a_failure_found_with_an_http_mock_says_the_same(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "failure.json"
    saved.write_text(json.dumps({"handler": "tests.cli_http_handlers:notifies", "payload": "{}",
                                 "schedule": {"faults": []}, "mode": "inprocess", "http_mock": True}))
    code = main(["replay", str(saved)])
    out = capsys.readouterr().out
    assert code == EXIT_USAGE, out
    assert "found with an HTTP mock" in out and "--http module:attribute" in out
    assert main(["replay", str(saved), "--http", "tests.cli_http_handlers:pay_mock"]) == 1
    assert "[effects_outside_steps]" in capsys.readouterr().out


def test_the_reproduction_of_a_run_with_a_callback_mock_asks_for_it() -> None:
    import responses

    from chaosdurable import check
    from tests.cli_http_handlers import notifies

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add_callback(responses.POST, "http://pay.example.test/charge", callback=lambda request: (200, {}, "{}"))
    verdict = check(notifies, {}, http=mock, allow_hosts=["127.0.0.1"])
    assert "http_mock = ...  # the responses.RequestsMock this run answered HTTP with" in verdict.replay
    assert "http=http_mock" in verdict.replay and "allow_hosts=['127.0.0.1']" in verdict.replay
    assert "--http MODULE:ATTR" in verdict.command and "--allow-host 127.0.0.1" in verdict.command
    assert verdict.spec["http_mock"] is True and verdict.spec["allow_hosts"] == ["127.0.0.1"]
    assert verdict.spec["http_routes"] is None


def test_the_reproduction_of_a_run_with_a_static_mock_rebuilds_it_and_runs_as_pasted() -> None:
    from chaosdurable import check
    from tests.cli_http_handlers import notifies, pay_mock

    verdict = check(notifies, {}, http=pay_mock())
    assert "http_mock = ..." not in verdict.replay, verdict.replay
    assert "http_mock.add('POST', 'http://pay.example.test/charge', status=200" in verdict.replay, verdict.replay
    scope: dict[str, Any] = {}
    exec(compile(verdict.replay.replace("print(verdict.report())", ""), "<replay>", "exec"), scope)
    again = scope["verdict"]
    assert [v.describe() for v in again.violations] == [v.describe() for v in verdict.violations]
    assert again.by_checker("effects_outside_steps"), again.report()


def test_a_saved_failure_found_with_a_static_mock_replays_without_http(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from chaosdurable import check
    from tests.cli_http_handlers import notifies, pay_mock

    verdict = check(notifies, {}, http=pay_mock())
    saved = tmp_path / "failure.json"
    saved.write_text(json.dumps(verdict.spec))
    code = main(["replay", str(saved)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "[effects_outside_steps] effect 'http:POST pay.example.test/charge'" in out, out


def test_routes_round_trip_every_static_kind() -> None:
    import re

    import requests
    import responses

    from chaosdurable.history.http_registry import rebuild, routes

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.add(responses.GET, re.compile(r"https://api\.example\.test/v1/items/\d+"), json={"id": 1}, status=200)
    mock.add(responses.POST, "https://api.example.test/v1/blob", body=b"\x00\xff", status=201,
             headers={"X-Request-Id": "r-1"}, content_type="application/octet-stream")
    copy = rebuild(routes(mock) or [])
    with copy:
        got = requests.get("https://api.example.test/v1/items/42", timeout=5)
        assert (got.status_code, got.json()) == (200, {"id": 1})
        blob = requests.post("https://api.example.test/v1/blob", timeout=5)
        assert (blob.status_code, blob.content, blob.headers["X-Request-Id"]) == (201, b"\x00\xff", "r-1")
    with_matcher = responses.RequestsMock()
    with_matcher.add(responses.POST, "https://x.test/", match=[responses.matchers.json_params_matcher({"a": 1})])
    assert routes(with_matcher) is None


def test_a_mock_without_a_matching_route_is_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "tests.cli_http_handlers:notifies", "--input", "{}", "--http",
                 "tests.cli_http_handlers:empty_mock"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == EXIT_USAGE, out
    assert "has no route that matches them" in out and "POST pay.example.test/charge" in out, out


def test_an_allowed_host_that_cannot_be_reached_is_called_out(capsys: pytest.CaptureFixture[str]) -> None:
    from chaosdurable.cli import EXIT_NOTHING_TESTED

    code = main(["check", "tests.cli_http_handlers:charges_closed_port", "--input", "{}", "--allow-host", "127.0.0.1"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == EXIT_NOTHING_TESTED, out
    assert "reached over the real network, and a request failed there" in out, out
    assert "--callbacks" not in out
