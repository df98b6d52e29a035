"""The built-in synthetic BTCUSDT market, calibrated to the paper's 32 days (spec §12).

It is the default input of the main job. It is not the paper's data (which cannot be had): it reproduces
the data's published statistics (counts, tick activity, spread, the BTC price path), not its history.
"""

from alpha_as.data.synthetic.calibration import SynthOptions
from alpha_as.data.synthetic.generate import SynthReport, generate_market, simulate

__all__ = ["SynthOptions", "SynthReport", "generate_market", "simulate"]
