"""From ranked passages to an answer: evidence sentence, span, confidence, lead, generation."""
