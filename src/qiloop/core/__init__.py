"""Pure domain: records, geometry, metrics and errors. Imports nothing else of qiloop."""
