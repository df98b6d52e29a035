"""Progress off a terminal (issue #16 §4): plain lines, one per completed step, never carriage-return frames."""

from __future__ import annotations

import io

from alpha_as.progress import LineProgress, progress_bar


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_one_line_per_step_and_no_carriage_returns():
    out = io.StringIO()
    with progress_bar(5, "synth days", "day", file=out) as bar:
        assert isinstance(bar, LineProgress)
        for _ in range(5):
            bar.update()
        bar.set_postfix(best="+0.1")
    text = out.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == 5
    assert lines[0].startswith("synth days: 1/5 day (20%), 0:00:0") and lines[-1].startswith("synth days: 5/5 day (100%)")


def test_many_steps_print_at_most_max_lines_and_always_the_last():
    out = io.StringIO()
    bar = LineProgress(100_000, "PPO", "step", file=out)
    for _ in range(100_000 // 8):
        bar.update(8)  # a vectorised env's 8 steps at a time
    lines = out.getvalue().splitlines()
    assert 95 <= len(lines) <= 100 and lines[-1].startswith("PPO: 100000/100000 step (100%)")
    bar = LineProgress(1000, "x", file=(out := io.StringIO()), max_lines=10)
    for _ in range(999):
        bar.update()
    assert len(out.getvalue().splitlines()) == 9
    bar.update()
    assert out.getvalue().splitlines()[-1].startswith("x: 1000/1000 it (100%)")


def test_resumed_bar_counts_from_initial_postfix_and_write():
    out = io.StringIO()
    bar = LineProgress(10, "Alpha-AS train + test", "step", initial=4, file=out)
    bar.set_postfix(best="+0.0123")
    bar.update(2)
    bar.write("FAILED job-3: boom")
    assert bar.n == 6
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0], "FAILED job-3: boom"]
    assert out.getvalue().startswith("Alpha-AS train + test: 6/10 step (60%), ") and "best=+0.0123" in out.getvalue()


def test_disabled_is_silent_but_counts_and_a_terminal_gets_tqdm():
    out = io.StringIO()
    bar = progress_bar(3, "x", file=out, enabled=False)
    bar.update(3)
    assert out.getvalue() == "" and bar.n == 3
    tty = FakeTTY()
    bar = progress_bar(3, "jobs", "job", file=tty)
    assert type(bar).__module__.startswith("tqdm")
    bar.update(3)
    bar.close()
    assert "\r" in tty.getvalue()  # tqdm redraws in place on a terminal
    assert type(progress_bar(3, file=FakeTTY(), enabled=False)) is LineProgress
