"""Batch entity resolution (issue 13 point 2): Splink links accounts of one person typed differently.

The model (comparisons, blocking rules, training recipe: ``model.py``, ``applicants.py``, ``febrl.py``) is
apart from the engine that runs it (``engines.py``: DuckDB embedded, or Spark at any master URL), as in
Splink itself. ``resolve.py`` trains, predicts and clusters; ``clusters.py`` names each cluster stably.
Splink, DuckDB and PySpark are imported only when a resolution runs, never by ``import openidv``.
"""

from openidv.services.linkage.clusters import person_key
from openidv.services.linkage.model import LinkageModel
from openidv.services.linkage.resolve import Resolution, resolve

__all__ = ["LinkageModel", "Resolution", "person_key", "resolve"]
