-- The consent record is append-only (CONTRACT section 3, Consents), and the database holds it
-- so, not only the code: an UPDATE is refused. Rows are deleted only by the retention sweep,
-- 5 years after the account (services/api/consents/retention.py).
CREATE FUNCTION consent_records_refuse_update() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consent_records is append-only';
END;
$$;
CREATE TRIGGER consent_records_append_only BEFORE UPDATE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION consent_records_refuse_update();
