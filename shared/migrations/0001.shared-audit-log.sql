-- Audit log: who read personal data or took a decision, written in the same transaction as the read or decision.
-- depends: 0000.shared-outbox-inbox

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    principal   text        NOT NULL,
    role        text        NOT NULL,
    area        text,
    action      text        NOT NULL,
    subject_id  text,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX audit_log_subject ON audit_log (subject_id, at);
CREATE INDEX audit_log_principal ON audit_log (principal, at);
