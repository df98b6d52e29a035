"""Typed configs from dicts: unknown keys and wrong types are one clear error naming the key."""

from __future__ import annotations

import pytest

from alpha_as.configs import from_dict
from alpha_as.engine import EngineConfig
from alpha_as.errors import InputError
from alpha_as.strategies import ASParams, FixedQuoterParams


def test_builds_and_accepts_ints_for_floats():
    p = from_dict(ASParams, {"risk_aversion": 1, "window_tick": 10}, source="x")
    assert p.risk_aversion == 1 and p.window_tick == 10
    assert from_dict(FixedQuoterParams, {"repost_filled_side": False}, source="x").repost_filled_side is False


@pytest.mark.parametrize(("cls", "d", "needle"), [
    (ASParams, {"gamma": 0.1}, "unknown key(s) gamma"),
    (ASParams, {"window_tick": 2.5}, "key 'window_tick' must be int"),
    (ASParams, {"window_tick": True}, "key 'window_tick' must be int"),
    (ASParams, {"skew_mode": 1}, "key 'skew_mode' must be str"),
    (EngineConfig, {"latency_ms": "65"}, "key 'latency_ms' must be float"),
    (EngineConfig, {"fill_model": "magic"}, "fill_model must be one of"),
    (FixedQuoterParams, {"repost_filled_side": 1}, "must be bool"),
    (ASParams, [1, 2], "expected a table"),
])
def test_errors_name_the_source_and_key(cls, d, needle):
    with pytest.raises(InputError) as e:
        from_dict(cls, d, source="cfg.toml [x]")
    assert needle in str(e.value) and (str(e.value).startswith("cfg.toml [x]") or "fill_model" in needle)
