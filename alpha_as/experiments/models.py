"""The models a replication protocol may run (:mod:`alpha_as.experiments.protocol`): names, labels, roles.

Every model is listed here; the stage that runs one beyond the paper has its own module (e.g. :mod:`.replicate_ppo`).
"""

from __future__ import annotations

PAPER_MODELS = ("foic", "liic", "gen-as", "alpha-as-1", "alpha-as-2")
"""The paper's five models."""
STRATEGY_MODELS = {"hummingbot-as": "hummingbot-as", "hummingbot-as-tuned": "hummingbot-as", "glft": "glft",
                   "glft-tuned": "glft"}
"""The strategy models (role ``strategy``) and the registered strategy each runs; ``-tuned``: on its GA's best."""
STRATEGIES = ("hummingbot-as", "glft")
"""The registered strategies of the strategy models (the tables ``[strategies.<name>]``)."""
ONLINE_MODELS = ("gen-as-pg",)
"""Gen-AS with its γ learned online (issue #14 §1, role ``strategy``): each seed's GA parameters as the warm start,
the learner's settings from ``[policy_gradient]``; a fresh learner per (test session, seed)."""
PPO_MODELS = ("ppo",)
"""PPO (issue #14 §2, role ``strategy``): one agent per seed trained on the training session on that seed's Gen-AS
parameters with ``[ppo]`` (PPOConfig fields but ``seed``), then played greedily on each test session."""
MODELS = (*PAPER_MODELS, *STRATEGY_MODELS, *ONLINE_MODELS, *PPO_MODELS, "random", "constant-train", "constant-oracle",
          "alpha-as-1-sound", "alpha-as-2-sound")
"""Every model a protocol may run, in the report's column order: the paper's five first."""
DEFAULT_MODELS = tuple(m for m in MODELS if m not in (*STRATEGY_MODELS, *ONLINE_MODELS, *PPO_MODELS))
"""The models of a protocol file without ``models`` (those of before the strategy models, so its identity stays)."""
LABELS = {"foic": "FOIC", "liic": "LIIC", "gen-as": "Gen-AS", "alpha-as-1": "Alpha-AS-1", "alpha-as-2": "Alpha-AS-2",
          "hummingbot-as": "Hummingbot AS", "hummingbot-as-tuned": "Hummingbot AS (tuned)", "glft": "GLFT",
          "glft-tuned": "GLFT (tuned)", "gen-as-pg": "Gen-AS (γ learned online)", "ppo": "PPO",
          "random": "Random", "constant-train": "Constant (train)", "constant-oracle": "Constant (oracle)",
          "alpha-as-1-sound": "Alpha-AS-1-sound", "alpha-as-2-sound": "Alpha-AS-2-sound"}
ROLES = {"foic": "baseline", "liic": "baseline", "gen-as": "reference", "alpha-as-1": "agent", "alpha-as-2": "agent",
         **dict.fromkeys(STRATEGY_MODELS, "strategy"), "gen-as-pg": "strategy", "ppo": "strategy",
         "random": "policy", "constant-train": "policy", "constant-oracle": "oracle",
         "alpha-as-1-sound": "variant", "alpha-as-2-sound": "variant"}
AGENT_ROLES = ("agent", "variant")
"""Roles trained and tested by the agents stage."""
REFERENCE_MODELS = ("random", "constant-train", "constant-oracle")
"""Models of the references stage (``alpha_as.agents.reference``)."""
NEEDS_GENAS = ("agent", "variant", "policy", "oracle")
"""Roles built on Gen-AS's parameters (so are ``gen-as-pg`` and ``ppo``)."""
SOUND_DROPS = ("preset", "q_target", "epochs", "batch_size")
"""[agents] keys a -sound model does not take (its preset sets them)."""
TABLES = ("protocol", "engine", "risk", "features", "genas", "agents", "sound", "baselines", "synth", "strategies",
          "policy_gradient", "ppo")
BASELINE_MODELS = ("foic", "liic")
