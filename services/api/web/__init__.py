"""What every domain's handlers share: keyset pagination and `since`, path ids, text-field
rules, the polls' HTTP caching, the rate limiter, presenters of embedded objects, Seoul time.
"""
