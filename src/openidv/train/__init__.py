"""Training recipes, beside the product: they may import it, it never imports them."""
