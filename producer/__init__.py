"""The producer service: ``POST /send`` publishes notifications to Kafka."""

from producer.app import create_app

__all__ = ["create_app"]
