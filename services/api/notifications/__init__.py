"""Notifications: the in-app rows written inside the transaction that causes them, the push jobs
emitted after commit (the outbox the push worker drains), and the devices pushes go to."""
