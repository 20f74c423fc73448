"""One pure module per request wire format, each parsing a decoded body into a canonical
``Request`` (or ``Embedding`` / ``Speech``): see ``_schema`` for the shape and ``_common``
for what several formats share. Nothing here imports an HTTP library."""
