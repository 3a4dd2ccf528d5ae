"""The social graph: users and their profiles, follows and the two lists of a profile, and dogs."""
