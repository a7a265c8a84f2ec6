"""Privacy and data lifecycle: erasure and access requests, raw-data retention, consent (issue #15).

- :mod:`.subjects`: who a request is about, and the keyed hash that stands in for them in audit records;
- :mod:`.registry`: one entry per table holding personal data — how to find a subject's rows, and
  whether to delete them or anonymise some columns (Shopify order tables join as entries);
- :mod:`.erasure`: the queued, idempotent, crash-safe erasure job and the service the API and the
  Shopify compliance webhooks call;
- :mod:`.access`: the JSON document of everything stored about a subject;
- :mod:`.retention`: raw rows past each account's windows, deleted in bounded batches;
- :mod:`.consent`: what an ingested hit may keep without analytics consent (pure).
"""
