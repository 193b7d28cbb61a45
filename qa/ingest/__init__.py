"""Reading articles: loaders by suffix, the corpus folder, chunking, upload checks."""
