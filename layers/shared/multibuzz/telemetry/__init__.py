"""Operability: the correlation id, business and latency metrics (CloudWatch EMF), X-Ray traces.

- ``correlation``: the API Gateway request id of the request being served (a context variable), added to
  every log line, sent as the ``correlation_id`` SQS message attribute, read back by the consumer.
- ``metrics``: the catalogue of metric names and ``count``/``observe``, plain in-memory sums on the hot
  paths, flushed as EMF lines per batch / per invocation (at most every few seconds on the HTTP paths).
- ``tracing``: Powertools Tracer, imported lazily (never on the redirect unless enabled).
- ``invocation``: the one wrapper every handler runs in (correlation id, function, cold start, flush).
"""
