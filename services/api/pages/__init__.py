"""The account pages that the emails' links open (CONTRACT section 7)."""
