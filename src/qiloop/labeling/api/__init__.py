"""The labelling service over HTTP: a JSON API for scripts (API tokens) and pages for browsers (sessions).

FastAPI lives here and nowhere else in ``qiloop.labeling``; importing this
package stays light, the app loads with :mod:`qiloop.labeling.api.app`.
"""
