"""Filtering of the text that others read (CONTRACT section 3, Filtering).

Nicknames, dog names, walk memos, comment bodies and invitation messages are checked when
written against wordlist.txt (LDNOOBW's English and Korean lists, curated, plus our own
additions) and the operator's `MODERATION_WORDLIST_FILE`; a match is 422 `validation_error`
with `"reason": "objectionable"` naming the field. `fields.PublicLine` and `fields.PublicText`
are the one place the check is applied; `matcher` is how a match is found.
"""
