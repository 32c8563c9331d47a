"""The fleet registry's schema revisions, oldest first by ``down_revision``."""
