"""Specimen documents: a template rendered with fictional holder data.

The reader recognises a template by comparing a photo with reference renderings of every template
(``templates.references``), so rendering is product code; the synthetic data generator (``openidv.synth``)
builds its data sets on the same renderer, adding capture degradations and forgeries.
"""
