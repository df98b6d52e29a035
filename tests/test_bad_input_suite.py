"""Issue #12 §6: every (bad input, command) pair of ``tests/bad_inputs.py`` gives one line naming the file/row/key
and exit code 2 (suspect data: ``data check`` says SUSPECT and exits 0, every replaying command refuses it).
The counts, classified as the fault-injection trial did, are printed in the pytest summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import bad_inputs as bi
from tests.conftest import report_line

_SEEN: list[bi.Outcome] = []


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return bi.make_clean_store(tmp_path_factory.mktemp("bad_inputs") / "clean")


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    if _SEEN:
        c = bi.counts(_SEEN)
        report_line(f"bad-input suite (tests/bad_inputs.py): {c['clear']} of {len(_SEEN)} (bad input, command) pairs "
                    f"give one clear line and exit 2; {c['vague']} a line without the cause, {c['bad']} bad")


def _assert_clear(outcomes: list[bi.Outcome]) -> None:
    _SEEN.extend(outcomes)
    wrong = [o.line() for o in outcomes if o.verdict != "clear"]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("case", list(bi.DATA_CASES))
def test_bad_data_is_refused_by_every_command_with_one_line(case, clean, tmp_path):
    _assert_clear(bi.data_outcomes(clean, tmp_path, [case]))


def test_suspect_data_replays_with_trust_data(clean, tmp_path):
    """The refusal of a suspect day is lifted by --trust-data (errors never are)."""
    root = tmp_path / "store"
    import shutil

    shutil.copytree(clean, root)
    bi.DATA_CASES["side 0/1"][0](root)
    argv = ["run", "foic", "--data", str(root), "--instrument", bi.INSTRUMENT, "--day", bi.BAD_DAY, "--out",
            str(tmp_path / "o")]
    rc, err, _ = bi.call(argv)
    assert rc == 2 and "--trust-data" in err, err
    rc, err, out = bi.call([*argv, "--trust-data"])
    assert rc == 0, err
    assert (tmp_path / "o" / "metrics.json").is_file()


def test_bad_options_and_config_values_give_one_line(clean, tmp_path):
    _assert_clear(bi.option_outcomes(clean, tmp_path))
