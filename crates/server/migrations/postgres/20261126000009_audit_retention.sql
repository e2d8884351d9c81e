-- Audit events older than the retention are deleted hourly, oldest first.
CREATE INDEX audit_events_at ON audit_events (at);
