"""Writing entry files: atomic replacement, round-trip YAML edits that keep comments, the
conflict-checked save every writer goes through, and new-entry scaffolding."""
