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
    self_check_url: str = Field(
        default="http://127.0.0.1:8001",
        max_length=200,
        description="Public address of the self-check page (/cek/...): printed cards' QR codes open it",
    )
    # Self-check ("Cek kepesertaan", docs/outreach.md): fixed windows kept in PostgreSQL, shared by every replica.
    selfcheck_source_window_s: int = Field(default=3600, ge=60, description="Window of the per-source budgets")
    selfcheck_source_misses: int = Field(default=5, ge=1, description="Misses per source (IP, phone) per window")
    selfcheck_source_attempts: int = Field(default=20, ge=1, description="Lookups per source per window")
    selfcheck_nik_window_s: int = Field(default=86400, ge=60, description="Window of the per-NIK budgets")
    selfcheck_nik_misses: int = Field(default=3, ge=1, description="Misses on one NIK per window")
    selfcheck_nik_attempts: int = Field(default=10, ge=1, description="Lookups of one NIK per window")
    selfcheck_global_window_s: int = Field(default=3600, ge=60, description="Window of the global miss budget")
    selfcheck_global_misses: int = Field(default=500, ge=1, description="Misses of everyone per window")
    selfcheck_leads_per_source: int = Field(default=3, ge=1, description="DAFTAR leads one phone makes per day")
    selfcheck_reference_max_age_s: int = Field(
        default=900, ge=60, description="How long a lookup's signed reference may be used to file an objection"
    )
    retention_selfcheck_days: int = Field(
        default=90, ge=2, description="Self-check lookups (audit and windows) and keyword answers kept this long"
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
