"""The ``qiloop`` command line: one Typer sub-app per area, wired in ``main``."""
