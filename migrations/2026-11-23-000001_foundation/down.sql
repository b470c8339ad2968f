DROP TABLE outbox_events;
DROP TABLE audit_chain_head;
DROP TABLE audit_events;
DROP TABLE idempotency_keys;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE orgs;
