"""Progress of long operations: a bar for a person at a terminal, nothing in CI logs or pipes."""

from __future__ import annotations

import io

import pytest

from bench.report.progress import in_ci, terminal_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_redrawn_line_that_ends_with_the_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    terminal = Terminal()
    with terminal_progress("TransferData", terminal) as progress:
        assert progress is not None
        for done in range(0, 1001, 5):
            progress(done, 1000)
    text = terminal.getvalue()
    assert text.count("\r") == 101  # once per percent, not once per block
    assert "[##############################] 100% 1000/1000 B" in text and text.endswith("\n")


def test_a_stopped_operation_still_ends_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    terminal = Terminal()
    with pytest.raises(RuntimeError), terminal_progress("TransferData", terminal) as progress:
        progress(300, 1000)
        raise RuntimeError("power cut")
    assert terminal.getvalue().endswith(" 30% 300/1000 B\n")


@pytest.mark.parametrize(("stream", "ci"), [(io.StringIO(), None), (Terminal(), "true"), (Terminal(), "1")])
def test_pipes_files_and_ci_jobs_get_nothing(stream: io.StringIO, ci: str | None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with terminal_progress("TransferData", stream) as progress:
        assert progress is None
    assert stream.getvalue() == ""


def test_ci_false_is_not_ci() -> None:
    assert not in_ci({"CI": "false"}) and not in_ci({}) and in_ci({"CI": "true"})
