from pydantic import Field

from shared.settings import ServiceSettings


class NominationSettings(ServiceSettings):
    http_port: int = 8001
    person_key_secret: str = Field(min_length=16, description="HMAC secret for pseudonymous person keys")
    programme_regency: str = Field(default="64.08", description="Dotted code of the regency whose programme this is")
    max_body_bytes: int = 64 * 1024
    max_batch_body_bytes: int = Field(default=4 * 1024 * 1024, description="POST /v1/nominations:batch (1000 items)")
    letter_max_bytes: int = Field(default=2 * 1024 * 1024, description="Largest supporting letter (photo or PDF)")
    letter_retention_days: int = Field(
        default=365, ge=1, description="Letters of decided nominations are deleted this many days after the decision"
    )
    retention_idempotency_keys_days: int = Field(
        default=90, ge=1, description="Idempotency-Key answers older than this go (shared/retention.py)"
    )
    upload_max_bytes: int = Field(default=2 * 1024 * 1024, description="Largest spreadsheet the portal takes")
    upload_max_rows: int = Field(default=1000, ge=1, description="Most data rows of one uploaded spreadsheet")
    upload_retention_days: int = Field(
        default=30, ge=1, description="An upload's sheet and rows are deleted this many days after the job finished"
    )
    objection_sla_days: int = Field(
        default=14, ge=1, le=90, description="Service level of an objection: due_by = the filing day (WITA) + this"
    )
    retention_objection_evidence_days: int = Field(
        default=365, ge=30, description="Evidence files of a decided objection are deleted this many days after"
    )
    retention_leads_days: int = Field(
        default=180, ge=30, description="A lead is deleted this many days after its last change (shared/retention.py)"
    )
