-- Issue 7: why a board member voted as they did (VoteRecorded.reason), shown with the vote.
ALTER TABLE votes ADD COLUMN reason text;
