"""Reports, staff and moderation (CONTRACT sections 3 Reports, 6 and 7 `/admin/`)."""
