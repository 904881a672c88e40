"""Seeded generators of labelled synthetic data: documents (``dataset.generate_documents``; the templates
and the specimen renderer are the product's, in ``openidv.checks.document``) and presentation attacks
(``attacks``). Every generator takes a seed; nothing downloads."""
