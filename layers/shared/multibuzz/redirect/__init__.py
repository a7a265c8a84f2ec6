"""The tracking-link redirect hot path (functions/redirect): cached lookup, 302, click to the queue.

Kept lean: no FastAPI, no ORM session, no database writes. See :mod:`multibuzz.redirect.service`.
"""
