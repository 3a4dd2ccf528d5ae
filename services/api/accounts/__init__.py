"""Accounts: sign-up, login and token refresh, password hashing, and the bearer check every
other route stands behind."""
