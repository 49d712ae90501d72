-- Issue 7: a member may say why they voted as they did; the reason is published with the vote.
ALTER TABLE votes ADD COLUMN reason text;
