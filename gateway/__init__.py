"""The central gateway: ingest, store, route, dispatch, lifecycle, API."""
