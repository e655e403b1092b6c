"""The exception hierarchy of kafka-notify.

Every exception the project raises on purpose derives from ``NotifyError``:

    NotifyError
    ├── SettingsError        an environment variable has an invalid value
    ├── UserDirectoryError   the users file cannot be read or is invalid
    ├── KafkaClientError     a Kafka operation failed; keeps the KafkaError
    │   └── DeliveryError    the broker did not acknowledge a record
    └── StoreError           the notification store failed to read or write
"""


class NotifyError(Exception):
    """Base class of every error raised by kafka-notify."""


class SettingsError(NotifyError):
    """An environment variable has a value the service cannot use."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


class UserDirectoryError(NotifyError):
    """The users file is missing, not JSON or not a list of users."""


class KafkaClientError(NotifyError):
    """A Kafka client operation failed.

    ``kafka_error`` is the ``confluent_kafka.KafkaError`` when librdkafka
    reported one, otherwise ``None``.
    """

    def __init__(self, message: str, kafka_error=None) -> None:
        super().__init__(message)
        self.kafka_error = kafka_error


class DeliveryError(KafkaClientError):
    """The broker did not acknowledge a produced record in time."""


class StoreError(NotifyError):
    """The notification store could not complete a read or a write."""
