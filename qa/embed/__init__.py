"""The embedding model: the Embedder protocol, the packaged model and its conversion, a fake."""
