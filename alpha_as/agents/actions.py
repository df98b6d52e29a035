"""The 20 Alpha-AS actions: risk aversion γ × skew (spec §6.3, CONFIRMED-CODE `AvellanedaAction.java`).

The authors enumerate actions over the SORTED parameter values: ``index = riskIdx·5 + skewIdx`` (their
window dimension has one value, so ``windowIdx·20`` is always 0).
"""

from __future__ import annotations

RISK_AVERSIONS: tuple[float, ...] = (0.01, 0.1, 0.2, 0.9)
"""γ values, sorted (the authors' `riskAversionAction`)."""
SKEWS: tuple[float, ...] = (-0.1, -0.05, 0.0, 0.05, 0.1)
"""Skew values, sorted (the authors' `skewPricePctAction`)."""
N_ACTIONS = len(RISK_AVERSIONS) * len(SKEWS)  # 20

INITIAL_PARAMS: dict[str, float | int] = {"risk_aversion": 0.9, "window_tick": 25}
"""The authors' override before the first action (spec §6.3, CONFIRMED-CODE
`AvellanedaStoikovQLearn.setParameters`): γ = max(riskAversionAction) = 0.9 and window_tick =
round(min(windowsTickAction)) = round(24.69) = 25, so the GA's γ is never used by Alpha-AS; the GA's other AS
parameters are. The window stays 25 for every action (one window value)."""


def action_to_params(i: int) -> dict[str, float]:
    """Action index 0..19 → ``{"risk_aversion": γ, "skew": s}``."""
    if not 0 <= int(i) < N_ACTIONS or int(i) != i:
        raise ValueError(f"action index must be an integer in 0..{N_ACTIONS - 1}, got {i!r}")
    r, s = divmod(int(i), len(SKEWS))
    return {"risk_aversion": RISK_AVERSIONS[r], "skew": SKEWS[s]}


def params_to_action(risk_aversion: float, skew: float) -> int:
    """(γ, skew) → action index; both must be on the grid (compared with a 1e-12 tolerance)."""
    r = [k for k, g in enumerate(RISK_AVERSIONS) if abs(g - risk_aversion) < 1e-12]
    s = [k for k, v in enumerate(SKEWS) if abs(v - skew) < 1e-12]
    if not r or not s:
        raise ValueError(f"(risk_aversion={risk_aversion}, skew={skew}) is not on the action grid")
    return r[0] * len(SKEWS) + s[0]
