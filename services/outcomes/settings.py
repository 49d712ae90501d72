"""Settings of the outcomes service: verification sampling, thresholds of the gaming monitors and
the social-value rule, each read from `SINGLEPOT_OUTCOMES_<FIELD NAME>` with a default."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.outcomes.domain import GamingThresholds


class OutcomesSettings(BaseSettings):
    """The outcomes service's own limits and thresholds (the shared ones are RuntimeSettings)."""

    model_config = SettingsConfigDict(env_prefix="SINGLEPOT_OUTCOMES_", extra="ignore")

    # The key of the keyed hash that replaces participant references where evidence files are
    # read (the gateway, the benchmark). One key per deployment, so that duplicates across
    # providers are visible; production sets it from a Secret.
    participant_hash_key: SecretStr = SecretStr("local-only-pseudonymisation-key")

    verification_sample_share: float = Field(default=0.05, ge=0, le=1)
    verification_sample_size_min: int = Field(default=1, ge=0)

    social_value_kpi_threshold_pence: int = Field(default=5_000_000_00, ge=0)
    social_value_kpi_count: int = Field(default=3, ge=0)

    creaming_rate_ratio_min: float = Field(default=0.5, ge=0, le=1)
    parking_unengaged_share_max: float = Field(default=0.5, ge=0, le=1)
    segment_referrals_min: int = Field(default=10, ge=1)
    near_cap_share: float = Field(default=0.9, gt=0, le=1)
    deadline_window_days: int = Field(default=14, ge=1)
    deadline_cluster_share_max: float = Field(default=0.5, ge=0, le=1)
    deadline_outcomes_min: int = Field(default=10, ge=1)

    # Memory for the sorts and groupings when a batch completes (the sample draw, the funnel),
    # for that transaction only.
    completion_work_mem_mb: int = Field(default=64, ge=4, le=1024)

    # Rejections listed in one EvidenceSubmitted event; every one is kept in the database.
    event_rejections_max: int = Field(default=200, ge=0, le=2000)
    # Sampled claims listed in one EvidenceSampled event part.
    event_sampled_claims_max: int = Field(default=1000, ge=1, le=2000)
    # Claims' results listed in one ClaimResultsRecorded event part.
    event_claim_results_max: int = Field(default=2000, ge=1, le=2000)

    def gaming_thresholds(self) -> GamingThresholds:
        return GamingThresholds(
            creaming_rate_ratio_min=self.creaming_rate_ratio_min,
            parking_unengaged_share_max=self.parking_unengaged_share_max,
            segment_referrals_min=self.segment_referrals_min,
            near_cap_share=self.near_cap_share,
            deadline_window_days=self.deadline_window_days,
            deadline_cluster_share_max=self.deadline_cluster_share_max,
            deadline_outcomes_min=self.deadline_outcomes_min,
        )
