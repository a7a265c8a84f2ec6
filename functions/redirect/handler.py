"""functions/redirect: GET|HEAD /r/{code}. The hot path: no FastAPI, no ORM session, no database writes.

A cached link lookup, a 302 with ``ref_code`` appended, the click handed to the clicks queue (or a
spool when the queue is down). See multibuzz.redirect.service.
"""

from multibuzz.redirect.service import Redirector

lambda_handler = Redirector()
