"""Stateful things checks ask, built once by the application and passed in.

``Services`` holds one of each (face gallery, capture index, liveness sessions, and those to come);
``Verifier`` runs a policy's pipeline with them and stores each verification together with the writes its
checks asked for. The API builds both at start-up, the CLI and the library verbs per command; nothing here is
a process-wide default.
"""

from openidv.services.container import Services
from openidv.services.verifier import Verifier

__all__ = ["Services", "Verifier"]
