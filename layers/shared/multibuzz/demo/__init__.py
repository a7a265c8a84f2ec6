"""Demo data for ``make serve``: generated traffic sent through the real ingestion path (see ``loader``)."""
