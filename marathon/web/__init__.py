"""The WSGI layer in front of Flask: the status fast path, in-flight lanes and the metrics middleware."""
