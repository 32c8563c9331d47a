"""The device nucleus: verifies signed deployments, installs components atomically, runs and rolls back.

Imports the standard library, ``cryptography`` and ``qiloop.core`` only.
"""
