"""Consents: the legal documents a person accepts, and the append-only record of each consent
given or withdrawn (CONTRACT section 3, Consents)."""
