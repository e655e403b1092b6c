"""The consumer service: Kafka topic → store → ``GET /notifications/<id>``."""

from consumer.app import create_app

__all__ = ["create_app"]
