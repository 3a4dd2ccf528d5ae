"""The API's typed application and per-request state."""

from __future__ import annotations

import uuid

from aiohttp import web

from services.api.notifications.push_jobs import PushJobEmitter
from shared.cluster import PipelinedConnection

user_id_key = web.RequestKey("user_id", uuid.UUID)
push_jobs_key = web.AppKey("push_jobs", PushJobEmitter)
# The feed poll's reads of its viewer's head (services/api/feed_heads.py).
# One pipelined connection, or one per primary on a Redis Cluster.
feed_head_reads_key: web.AppKey[PipelinedConnection] = web.AppKey("feed_head_reads")
