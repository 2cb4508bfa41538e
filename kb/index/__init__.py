"""The search index: the only package that imports Whoosh. A rebuildable cache of the files."""
