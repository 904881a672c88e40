"""Tables of the identity graph: accounts and the identifier keys they used.

SQL is the source of truth; the in-memory graph (``openidv.services.identity_graph``) is rebuilt from these
rows at start and updated as accounts are added. Only the bipartite account <-> identifier links are stored:
account-account links are derived (their weights depend on how many accounts share an identifier, which
changes with every add), so nothing here ever holds a pair of accounts.

Identifier keys are already normalised strings ``kind:value`` (``phone:+14155550100``, ``ip24:10.1.2.0/24``).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    JSON,
    Engine,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Table,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from openidv.store.db import Base, UTCDateTime

#: longest identifier key stored (a normalised address is the longest kind)
KEY_LENGTH = 300
#: longest account id (the integrator's applicant id)
ACCOUNT_LENGTH = 200


class GraphAccount(Base):
    """An onboarding account of one tenant: a node of the identity graph."""

    __tablename__ = "graph_accounts"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the verification that added it, when one did
    verification_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: derived, non-identifying facts the ring models read (``openidv.services.graph_facts``); no names,
    #: numbers or addresses (migration 0009)
    facts: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)


class GraphLink(Base):
    """One identifier key an account used; unique per (tenant, account, key)."""

    __tablename__ = "graph_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["graph_accounts.tenant_id", "graph_accounts.account_id"],
            ondelete="CASCADE",
            name="fk_graph_links_account",
        ),
        # which accounts used a key: the lookup every neighbourhood and erasure report needs
        Index("ix_graph_links_tenant_key", "tenant_id", "key"),
    )

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GraphIdentifierValue(Base):
    """The clear value behind a pseudonymous key, sealed (envelope encryption, bound to tenant and key).

    Links hold keyed pseudonyms (``kind:`` + HMAC of the normalised value), so the link table says who
    shares *something* without saying what; an investigator with the right scope reads the value here.
    A row is deleted when the last account holding its key is erased (migration 0009)."""

    __tablename__ = "graph_identifier_values"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    value_sealed: Mapped[bytes] = mapped_column(LargeBinary)


GRAPH_TABLES: tuple[Table, ...] = (
    cast(Table, GraphAccount.__table__),
    cast(Table, GraphLink.__table__),
    cast(Table, GraphIdentifierValue.__table__),
)


def create_graph_tables(engine: Engine) -> None:
    """Create the graph tables where they are missing (deployments get them from migration 0008; this serves
    tests on a bare database)."""
    existing = set(inspect(engine).get_table_names())
    if "graph_accounts" in existing:
        columns = {c["name"] for c in inspect(engine).get_columns("graph_accounts")}
        if "facts" not in columns:
            raise RuntimeError("graph_accounts predates migration 0009: run `openidv db upgrade`")
    missing = [t for t in GRAPH_TABLES if t.name not in existing]
    if missing:
        Base.metadata.create_all(engine, tables=missing)
