DROP VIEW outbox_feed;
DROP VIEW audit_trail;
ALTER TABLE outbox_events ADD COLUMN payload jsonb;
UPDATE outbox_events o SET payload = p.payload FROM outbox_payloads p WHERE p.event_id = o.id;
ALTER TABLE outbox_events ALTER COLUMN payload SET NOT NULL;
DROP TABLE outbox_payloads;
ALTER TABLE audit_events ADD COLUMN before jsonb, ADD COLUMN after jsonb;
UPDATE audit_events e SET before = c.before, after = c.after FROM audit_changes c WHERE c.event_id = e.id;
DROP TABLE audit_changes;
