"""Seeded generators of labelled synthetic data: documents (``dataset.generate_documents``, templates in
``templates/``) and presentation attacks (``attacks``). Every generator takes a seed; nothing downloads."""
