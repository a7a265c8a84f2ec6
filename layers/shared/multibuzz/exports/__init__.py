"""Exports: datasets streamed from the database to the object store, with a manifest, downloaded by URL.

- ``datasets``: the registry (one entry per dataset: columns, query, manifest extras);
- ``encoding``: rows → CSV / JSON lines, gzip-compressed and hashed as a stream (pure);
- ``service``: request, list and read exports (the HTTP side);
- ``worker``: the queue consumer that writes an export by multipart upload in constant memory;
- ``http``: the FastAPI routes of the exports function.
"""
