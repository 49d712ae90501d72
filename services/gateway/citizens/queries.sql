-- Named queries of the citizens room: it reads and writes only its own tables (citizens_*).

-- ---- Settings -------------------------------------------------------------------------------

-- name: place_rules
SELECT answer_days, trigger_threshold, trigger_window_days, committee_response_days
FROM citizens_place_rules WHERE place_id = $1;

-- name: set_place_rules
INSERT INTO citizens_place_rules (place_id, answer_days, trigger_threshold, trigger_window_days,
                                  committee_response_days, set_by, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (place_id) DO UPDATE
SET answer_days = EXCLUDED.answer_days, trigger_threshold = EXCLUDED.trigger_threshold,
    trigger_window_days = EXCLUDED.trigger_window_days,
    committee_response_days = EXCLUDED.committee_response_days,
    set_by = EXCLUDED.set_by, updated_at = now();

-- ---- The Citizens' Panel --------------------------------------------------------------------

-- name: add_panel_member
INSERT INTO citizens_panel_members (place_id, pseudonym, joined_on, added_by)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, pseudonym) DO NOTHING
RETURNING pseudonym;

-- name: panel_members
SELECT pseudonym, joined_on FROM citizens_panel_members WHERE place_id = $1 ORDER BY pseudonym;

-- name: panel_member_exists
SELECT 1 FROM citizens_panel_members WHERE place_id = $1 AND pseudonym = $2;

-- name: add_panel_meeting
INSERT INTO citizens_panel_meetings (place_id, meeting_id, held_on, agenda)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, meeting_id) DO NOTHING
RETURNING meeting_id;

-- name: panel_meetings
SELECT meeting_id, held_on, agenda FROM citizens_panel_meetings
WHERE place_id = $1 ORDER BY held_on DESC, meeting_id;

-- name: panel_meeting
SELECT meeting_id, held_on, agenda FROM citizens_panel_meetings
WHERE place_id = $1 AND meeting_id = $2;

-- name: ask_panel_question
INSERT INTO citizens_panel_questions (place_id, question_id, meeting_id, asked_by, question,
                                      asked_on, due_on)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: panel_questions
SELECT question_id, meeting_id, asked_by, question, asked_on, due_on, answer, answered_on
FROM citizens_panel_questions
WHERE place_id = $1 ORDER BY asked_on DESC, question_id
LIMIT $2;

-- name: panel_question_for_answer
SELECT question_id, due_on, answered_on FROM citizens_panel_questions
WHERE place_id = $1 AND question_id = $2
FOR UPDATE;

-- name: answer_panel_question
UPDATE citizens_panel_questions
SET answer = $3, answered_on = $4, answered_by = $5
WHERE place_id = $1 AND question_id = $2;

-- ---- Scrutiny triggers ----------------------------------------------------------------------

-- name: open_trigger
INSERT INTO citizens_triggers (place_id, trigger_id, subject_kind, subject, concern, opened_at,
                               closes_at, threshold)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: trigger_for_update
SELECT trigger_id, subject_kind, subject, concern, opened_at, closes_at, threshold, referred_at,
       referral_id
FROM citizens_triggers WHERE place_id = $1 AND trigger_id = $2
FOR UPDATE;

-- name: trigger
SELECT trigger_id, subject_kind, subject, concern, opened_at, closes_at, threshold, referred_at,
       referral_id
FROM citizens_triggers WHERE place_id = $1 AND trigger_id = $2;

-- name: add_supporter
INSERT INTO citizens_trigger_supporters (place_id, trigger_id, resident_key, supported_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, trigger_id, resident_key) DO NOTHING;

-- name: supports
SELECT 1 FROM citizens_trigger_supporters
WHERE place_id = $1 AND trigger_id = $2 AND resident_key = $3;

-- name: supporter_count
SELECT count(*) FROM citizens_trigger_supporters WHERE place_id = $1 AND trigger_id = $2;

-- name: mark_referred
UPDATE citizens_triggers SET referred_at = $3, referral_id = $4
WHERE place_id = $1 AND trigger_id = $2;

-- name: triggers
-- The place's triggers, newest first, each with its count of supporters (never who).
SELECT t.trigger_id, t.subject_kind, t.subject, t.concern, t.opened_at, t.closes_at,
       t.threshold, t.referred_at, t.referral_id,
       (SELECT count(*) FROM citizens_trigger_supporters AS s
        WHERE s.place_id = t.place_id AND s.trigger_id = t.trigger_id) AS supporters
FROM citizens_triggers AS t
WHERE t.place_id = $1
ORDER BY t.opened_at DESC, t.trigger_id
LIMIT $2;

-- ---- The Local Public Audit Committee -------------------------------------------------------

-- name: add_referral
INSERT INTO citizens_referrals (place_id, referral_id, source, subject, concern, referred_by,
                                referred_on, respond_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: referrals
SELECT referral_id, source, subject, concern, referred_on, respond_by, status, status_note
FROM citizens_referrals WHERE place_id = $1
ORDER BY referred_on DESC, referral_id
LIMIT $2;

-- name: referral_for_update
SELECT referral_id, status FROM citizens_referrals
WHERE place_id = $1 AND referral_id = $2
FOR UPDATE;

-- name: set_referral_status
UPDATE citizens_referrals SET status = $3, status_note = $4, updated_at = now()
WHERE place_id = $1 AND referral_id = $2;

-- name: add_committee_member
INSERT INTO citizens_committee_members (place_id, name, membership, joined_on)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, name) DO NOTHING;

-- name: committee_members
SELECT name, membership, joined_on FROM citizens_committee_members
WHERE place_id = $1 ORDER BY name;

-- name: committee_member_exists
SELECT 1 FROM citizens_committee_members WHERE place_id = $1 AND name = $2;

-- name: report_exists
SELECT 1 FROM citizens_committee_reports WHERE place_id = $1 AND report_id = $2;

-- name: adopt_report
INSERT INTO citizens_committee_reports (place_id, report_id, referral_id, title, summary,
                                        adopted_on, adopted_by)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: add_recommendation
INSERT INTO citizens_recommendations (place_id, report_id, number, recommendation,
                                      addressed_to, due_on)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: reports
SELECT report_id, referral_id, title, summary, adopted_on FROM citizens_committee_reports
WHERE place_id = $1 ORDER BY adopted_on DESC, report_id
LIMIT $2;

-- name: recommendations
SELECT report_id, number, recommendation, addressed_to, due_on, completed_on, completion_note
FROM citizens_recommendations WHERE place_id = $1
ORDER BY report_id, number;

-- name: recommendation
SELECT number, due_on, completed_on FROM citizens_recommendations
WHERE place_id = $1 AND report_id = $2 AND number = $3;

-- name: complete_recommendation
UPDATE citizens_recommendations SET completed_on = $4, completion_note = $5
WHERE place_id = $1 AND report_id = $2 AND number = $3 AND completed_on IS NULL;

-- ---- Participatory budgeting rounds ---------------------------------------------------------

-- name: open_round
INSERT INTO citizens_pb_rounds (place_id, round_id, title, allocation_id, budget_pence,
                                proposals_open_on, proposals_close_on, voting_open_on,
                                voting_close_on, eligible_areas, eligible_purposes,
                                projects_start_on, projects_end_on, opened_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14);

-- name: round_exists
SELECT 1 FROM citizens_pb_rounds
WHERE place_id = $1 AND (round_id = $2 OR allocation_id = $3);

-- name: round
SELECT round_id, title, allocation_id, budget_pence, proposals_open_on, proposals_close_on,
       voting_open_on, voting_close_on, eligible_areas, eligible_purposes, projects_start_on,
       projects_end_on, counted_at, funded_pence, unspent_pence
FROM citizens_pb_rounds WHERE place_id = $1 AND round_id = $2;

-- name: round_for_update
SELECT round_id, title, allocation_id, budget_pence, proposals_open_on, proposals_close_on,
       voting_open_on, voting_close_on, eligible_areas, eligible_purposes, projects_start_on,
       projects_end_on, counted_at, funded_pence, unspent_pence
FROM citizens_pb_rounds WHERE place_id = $1 AND round_id = $2
FOR UPDATE;

-- name: rounds
SELECT round_id, title, allocation_id, budget_pence, proposals_open_on, proposals_close_on,
       voting_open_on, voting_close_on, eligible_areas, eligible_purposes, projects_start_on,
       projects_end_on, counted_at, funded_pence, unspent_pence
FROM citizens_pb_rounds WHERE place_id = $1
ORDER BY proposals_open_on DESC, round_id
LIMIT $2;

-- name: submit_proposal
INSERT INTO citizens_pb_proposals (place_id, round_id, proposal_id, title, description, area,
                                   purpose, cost_pence, recipient_id, proposer_key,
                                   submitted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: round_proposal_for_update
SELECT proposal_id, moderation FROM citizens_pb_proposals
WHERE place_id = $1 AND round_id = $2 AND proposal_id = $3
FOR UPDATE;

-- name: moderate_proposal
UPDATE citizens_pb_proposals
SET moderation = $4, moderation_reason = $5, moderated_at = $6
WHERE place_id = $1 AND round_id = $2 AND proposal_id = $3;

-- name: round_proposals
-- Every proposal of a round, in the order they came; the proposer's key is never read out.
SELECT proposal_id, title, description, area, purpose, cost_pence, recipient_id,
       submitted_at, moderation, moderation_reason, moderated_at, votes, winner_rank,
       allocation_id
FROM citizens_pb_proposals
WHERE place_id = $1 AND round_id = $2
ORDER BY submitted_at, proposal_id;

-- name: accepted_costs
SELECT proposal_id, cost_pence FROM citizens_pb_proposals
WHERE place_id = $1 AND round_id = $2 AND proposal_id = ANY($3::uuid[])
  AND moderation = 'accepted';

-- name: cast_ballot
-- One ballot per voter key and round: a second answers no row, and nothing is counted.
INSERT INTO citizens_pb_ballots (place_id, round_id, voter_key, cast_on)
VALUES ($1, $2, $3, $4)
ON CONFLICT (place_id, round_id, voter_key) DO NOTHING
RETURNING voter_key;

-- name: has_voted
SELECT 1 FROM citizens_pb_ballots WHERE place_id = $1 AND round_id = $2 AND voter_key = $3;

-- name: add_votes
UPDATE citizens_pb_proposals SET votes = votes + 1
WHERE place_id = $1 AND round_id = $2 AND proposal_id = ANY($3::uuid[])
  AND moderation = 'accepted';

-- name: ballots_cast
SELECT count(*) FROM citizens_pb_ballots WHERE place_id = $1 AND round_id = $2;

-- name: mark_winner
UPDATE citizens_pb_proposals SET winner_rank = $4, allocation_id = $5
WHERE place_id = $1 AND round_id = $2 AND proposal_id = $3;

-- name: mark_counted
UPDATE citizens_pb_rounds
SET counted_at = $3, counted_by = $4, funded_pence = $5, unspent_pence = $6,
    settle_event_id = $7
WHERE place_id = $1 AND round_id = $2 AND counted_at IS NULL;

-- name: settlement_refused
-- The allocations service refused a round's settlement (the refusal names the settle command
-- as its cause); the first refusal is kept, a replayed one changes nothing.
UPDATE citizens_pb_rounds
SET settle_refused_rule = $3, settle_refused_reason = $4, settle_refused_at = $5
WHERE place_id = $1 AND settle_event_id = $2 AND settle_refused_at IS NULL;

-- name: settlement_refusal
SELECT settle_refused_rule AS rule, settle_refused_reason AS reason,
       settle_refused_at AS refused_at
FROM citizens_pb_rounds
WHERE place_id = $1 AND round_id = $2 AND settle_refused_at IS NOT NULL;
