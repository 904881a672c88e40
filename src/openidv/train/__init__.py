"""Seeded training recipes that write versioned artifacts and model cards.

They stand beside the product: they may import it (checks, synth, eval), it never imports them.
"""
