"""Object storage for exports: S3 with presigned URLs, or a local folder with signed local URLs."""

from multibuzz.adapters.objects.base import ObjectNotFoundError, ObjectStore, Upload

__all__ = ["ObjectNotFoundError", "ObjectStore", "Upload"]
