"""Code both withbowwow services share: settings, tokens, database, Redis, errors, schemas."""
