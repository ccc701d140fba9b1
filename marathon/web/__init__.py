"""The WSGI layer: what is served in front of Flask (pushed status streams)."""
