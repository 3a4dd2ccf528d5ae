"""Walks and what is read around them: recording and reading walks, the feed and its poll (with
the per-viewer feed heads in Redis), likes and comments, and what a walk sets off.
"""
