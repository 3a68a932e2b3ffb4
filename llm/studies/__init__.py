"""Studies: recipes that orchestrate the components (each reads top to bottom)."""
