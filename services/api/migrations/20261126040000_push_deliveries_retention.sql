-- The push worker forgets per-device outcomes after PUSH_DELIVERY_RETENTION_S (only a retried
-- job reads them; they are kept a while to answer "why did my phone get nothing?").
CREATE INDEX push_deliveries_created_idx ON push_deliveries (created_at);
