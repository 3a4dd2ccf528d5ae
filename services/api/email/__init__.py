"""Email (CONTRACT section 3, Email): the links' tokens, the outbox, and the emails' text."""
