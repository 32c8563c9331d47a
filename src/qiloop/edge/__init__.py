"""The device side: what runs on an edge device.

Everything below this package imports only NumPy, Pillow, ONNX Runtime and
``qiloop.core`` (plus the messaging and signing libraries of the edge extra),
so ``pip install qiloop[edge]`` is all a device needs.
"""
