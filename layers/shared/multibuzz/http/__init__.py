"""HTTP plumbing shared by the FastAPI-based functions: app factory, errors, dependencies."""
