"""Vietnamese and English text tools, entity patterns, question kinds."""
