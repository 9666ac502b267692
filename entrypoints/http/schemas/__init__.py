"""msgspec request and response bodies of the HTTP API, one module per resource.

They are kept apart from the domain entities: each module converts entities to its
response bodies (``*_out`` functions); request bodies carry the constraints the OpenAPI
document shows, and the use cases re-check everything.
"""
