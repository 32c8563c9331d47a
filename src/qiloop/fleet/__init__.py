"""The cloud side of the edge: what the fleet reports (results, status, feedback images) and more.

Modules are imported by name (``qiloop.fleet.collector``), so importing this
package pulls in nothing.
"""
