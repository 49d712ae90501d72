"""The grant monitoring room: agreed measures and reporting schedules, recipients' reports and
their review, the instalments reports hold, claims on grants paid in arrears, the due diligence
record of each organisation, and the duplicate funding report."""
