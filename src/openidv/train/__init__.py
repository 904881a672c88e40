"""Seeded training recipes that write versioned artifacts and model cards (beside the product)."""
