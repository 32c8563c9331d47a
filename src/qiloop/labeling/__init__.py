"""The labelling pipeline: images without approved labels → human boxes → consolidation → verification.

Pure parts (``overlap``, ``consolidation``, ``gold``) use only NumPy and ``qiloop.core``.
The service parts (``db``, ``models``, ``jobs``, ``tasks``, ``workforce``, ``verification``)
need SQLAlchemy: ``pip install 'qiloop[label]'``.
"""
