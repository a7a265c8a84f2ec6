"""The web app: server-rendered pages (FastAPI + Jinja2, htmx, Chart.js, Pico CSS) over the same services as
the JSON API. Entry package (like ``api/``): ``multibuzz.services`` never imports it."""
