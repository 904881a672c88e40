"""The names under which checks ask for services (``Check.needs``).

A check declares the small protocol it calls in its own domain module (e.g. ``GalleryLookup`` in
``checks/face/duplicate.py``); the application builds the implementations once (``openidv.services``) and
passes them in by these names. A check whose service is missing fails at construction, never silently.
"""

from __future__ import annotations

FACE_GALLERY = "face_gallery"  # 1:N face search (openidv.services.face_gallery.GalleryService)
CAPTURE_INDEX = "capture_index"  # fingerprints of accepted captures (openidv.services.captures)
LIVENESS_SESSIONS = "liveness_sessions"  # verdicts of challenge sessions (openidv.services.liveness)
IDENTITY_GRAPH = "identity_graph"  # accounts linked by shared identifiers (openidv.services.graph_service)
#: device identities, reputation and velocity (Redis, with an in-process fallback)
DEVICE_REPUTATION = "device_reputation"
#: external IDV vendors behind routing, failover and shadow calls (openidv.vendors.router)
VENDOR_ROUTER = "vendor_router"

ALL = (FACE_GALLERY, CAPTURE_INDEX, LIVENESS_SESSIONS, IDENTITY_GRAPH, DEVICE_REPUTATION, VENDOR_ROUTER)
