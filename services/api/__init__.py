"""The REST API: users, dogs, walks, feed, interactions, invitations, notifications, rankings."""
