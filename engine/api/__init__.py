"""The integration API under ``/api/v1``: JSON in and out, bearer tokens with scopes.

``engine.api.routes.routes`` is the route set the HTTP server mounts; ``engine.api.settings``
holds the ``[api]`` configuration (imported by ``engine.config``, so it needs only msgspec).
See docs/api.md.
"""
