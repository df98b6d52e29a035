"""alpha-as: the Alpha-AS paper replication and an Avellaneda-Stoikov market-making toolkit.

Data flows one way through the subpackages: ``data`` (market data: store, importers, synthetic market,
validation) -> engine -> strategies and agents -> experiments -> report.
"""

__version__ = "0.1.0"
