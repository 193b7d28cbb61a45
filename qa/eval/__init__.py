"""Question sets, metrics, the plain-dense baseline, dialogues and the evaluation run."""
