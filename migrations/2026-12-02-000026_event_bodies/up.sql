-- What an event carries — an audit event's object before and after, an outbox event's payload —
-- kept in a table of its own, written once in the statement that writes the event and never
-- changed. The sealer numbers and links every event with an UPDATE, which writes a new version
-- of the whole row: with the object inside, ~1.7 kB of WAL for each audit event and ~1.4 kB for
-- each outbox event a second time (a receive scan wrote 11.5 kB of WAL, 6.6 kB of it its two
-- events; docs/benchmarks.md). The rows the sealer rewrites are now a few hundred bytes.
-- (Compressing the objects in place does not help: PostgreSQL compresses a value only in a row
-- longer than about 2 kB, whatever the table's toast_tuple_target.)
--
-- No foreign key: a body is inserted by the same statement as its event, and the hash chain
-- covers it (`GET /v1/audit/verify` finds a body edited or gone).

CREATE TABLE audit_changes (
    event_id  bigint PRIMARY KEY,
    before    jsonb,
    after     jsonb
);
INSERT INTO audit_changes (event_id, before, after) SELECT id, before, after FROM audit_events;
ALTER TABLE audit_events DROP COLUMN before, DROP COLUMN after;

CREATE TABLE outbox_payloads (
    event_id  bigint PRIMARY KEY,
    payload   jsonb NOT NULL
);
INSERT INTO outbox_payloads (event_id, payload) SELECT id, payload FROM outbox_events;
ALTER TABLE outbox_events DROP COLUMN payload;

-- The events as readers see them.
CREATE VIEW audit_trail AS
    SELECT e.id, e.occurred_at, e.actor_user_id, e.actor_org_id, e.org_ids, e.action, e.object_kind,
           e.object_id, c.before, c.after, e.request_id, e.seq, e.prev_hash, e.hash, e.sealed_at
    FROM audit_events e LEFT JOIN audit_changes c ON c.event_id = e.id;

CREATE VIEW outbox_feed AS
    SELECT o.id, o.org_ids, o.event_type, p.payload, o.created_at, o.seq
    FROM outbox_events o JOIN outbox_payloads p ON p.event_id = o.id;
