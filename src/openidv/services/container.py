"""``Services``: the set of services one application instance owns, by the names checks ask for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from openidv.checks.services import (
    CAPTURE_INDEX,
    DEVICE_REPUTATION,
    FACE_GALLERY,
    IDENTITY_GRAPH,
    LIVENESS_SESSIONS,
    VENDOR_ROUTER,
)
from openidv.decision.policy import Policy
from openidv.settings import Settings

if TYPE_CHECKING:
    from openidv.checks.vendor import VendorRouting
    from openidv.services.captures import CaptureIndex
    from openidv.services.device_reputation import DeviceReputation
    from openidv.services.face_gallery import GalleryService
    from openidv.services.graph_service import GraphService
    from openidv.services.liveness import LivenessService
    from openidv.store.repository import Store


@dataclass(frozen=True)
class Services:
    """One instance of each service; ``None`` where a deployment has none (checks needing it then refuse to
    be built, with a message naming the service)."""

    face_gallery: GalleryService | None = None
    capture_index: CaptureIndex | None = None
    liveness_sessions: LivenessService | None = None
    identity_graph: GraphService | None = None
    #: device identities, reputation and velocity: Redis (falling back to memory) or memory only
    device_reputation: DeviceReputation | None = None
    #: external IDV vendors (``OPENIDV_VENDORS``): what the vendor checks ask; None: no vendors
    vendor_router: VendorRouting | None = None

    def as_mapping(self) -> dict[str, object]:
        """By the names of ``openidv.checks.services`` (what ``Check.needs`` lists)."""
        return {
            FACE_GALLERY: self.face_gallery,
            CAPTURE_INDEX: self.capture_index,
            LIVENESS_SESSIONS: self.liveness_sessions,
            IDENTITY_GRAPH: self.identity_graph,
            DEVICE_REPUTATION: self.device_reputation,
            VENDOR_ROUTER: self.vendor_router,
        }

    @classmethod
    def open(cls, settings: Settings, store: Store, policy: Policy) -> Services:
        """The standard set on one store's database: galleries, accepted captures, liveness sessions, and
        the identity graph (loaded on its first use per tenant), and device reputation (Redis when
        ``settings.redis_url`` is set, with an in-process fallback; in-process otherwise); the vendor router
        only when ``settings.vendors_path`` (``OPENIDV_VENDORS``) names a vendors.yaml."""
        from openidv.services.captures import SqlCaptureIndex
        from openidv.services.device_reputation import device_reputation_from
        from openidv.services.face_gallery import GalleryService
        from openidv.services.graph_service import GraphService
        from openidv.services.liveness import LivenessService

        captures = SqlCaptureIndex(store.engine)
        vendor_router: VendorRouting | None = None
        if settings.vendors_path is not None:
            from openidv.vendors.routed import router_from_file

            vendor_router = router_from_file(
                settings.vendors_path, lambda: store.keyring, engine=store.engine
            )
        return cls(
            face_gallery=GalleryService.from_settings(
                settings, engine=store.engine, policy=policy, audit_log=store.audit
            ),
            capture_index=captures,
            liveness_sessions=LivenessService(
                store.engine, index=captures, policy=policy, audit_log=store.audit
            ),
            identity_graph=GraphService.from_store(store, settings),
            device_reputation=device_reputation_from(
                settings.redis_url,
                prefix=settings.device_redis_prefix,
                retention_days=settings.retention_device_days,
            ),
            vendor_router=vendor_router,
        )
