"""The WSGI layer in front of Flask: the line's fast paths (join, status), pushed status streams, in-flight lanes and
the metrics middleware."""
