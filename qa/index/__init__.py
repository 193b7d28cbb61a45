"""The index: its array model, the build, the on-disk format, segments of changes, the journal."""
