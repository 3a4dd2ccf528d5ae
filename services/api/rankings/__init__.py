"""Rankings and badges: the rules that judge a walk (weekly distance totals in Redis, badges awarded
once), and their two read routes."""
