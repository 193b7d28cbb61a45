"""Hybrid retrieval and fusion, the cross-lingual shift, follow-up questions."""
