"""The plain library verbs (placeholder: the lead writes the real package docstring and exports)."""
