"""Label file formats: each a pure parse/render pair plus a thin file shell."""
