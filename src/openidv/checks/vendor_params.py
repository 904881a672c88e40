"""Parameters of the vendor checks (a module that imports pydantic and little else, for the registry)."""

from __future__ import annotations

from pydantic import Field

from openidv.checks.base import CheckParams


class VendorParams(CheckParams):
    """What a vendor check sends. Which vendor judges, and how it is reached, is vendors.yaml's business
    (the ``vendor_router`` service), not the policy's."""

    #: images are sent re-encoded as JPEG at this quality (openidv keeps pixels, not the uploaded file)
    jpeg_quality: int = Field(default=95, ge=50, le=100)
    #: send the applicant's declared name and birth date (some vendors compare them with the document)
    send_declared: bool = False
