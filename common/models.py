"""The domain objects both services exchange."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class User:
    """A user of the social application."""

    id: int
    name: str

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class Notification:
    """A message from one user to another, as carried on the topic.

    ``created_at`` is the producer's UTC timestamp in RFC 3339 form
    (``2026-12-04T15:20:00.123456Z``), kept as text so that it reads back
    exactly as it was published.
    """

    id: str
    sender: User
    recipient: User
    message: str
    created_at: str

    def to_dict(self) -> dict:
        """Return the JSON form used on the topic and in responses."""
        return {
            "id": self.id,
            "from": self.sender.to_dict(),
            "to": self.recipient.to_dict(),
            "message": self.message,
            "created_at": self.created_at,
        }

    @property
    def record_key(self) -> bytes:
        """Kafka record key: the recipient's id in decimal."""
        return str(self.recipient.id).encode("ascii")
