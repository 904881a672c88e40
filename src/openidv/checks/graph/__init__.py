"""Identity graph: normalised identifiers that link onboarding accounts (issue 13).

``openidv.checks.graph.identifiers`` is the entry point: ``identifiers_of(applicant)`` turns an applicant's
declared fields into ``Identifier`` keys, one per email, phone, address, IP and network, device, national id,
document and face; each normaliser is also importable from there.
"""
