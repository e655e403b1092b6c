"""Code shared by the producer and consumer services."""
