-- Membership cards print each member's cover start and the funding source's readable name: the progress fold keeps
-- both from EnrolmentConfirmed from now on. Members enrolled before get the cover start their history kept (the
-- readable funding source name was never stored: cards print the source's code until the next confirmation).
-- depends: 0008.nomination-refused

UPDATE nominations n
SET progress = n.progress || jsonb_build_object('coverage_start', h.detail->>'coverage_start')
FROM (
    SELECT DISTINCT ON (nomination_id) nomination_id, detail
    FROM nomination_history
    WHERE stage = 'enrolled' AND detail ? 'coverage_start'
    ORDER BY nomination_id, occurred_at DESC
) h
WHERE h.nomination_id = n.id AND n.outcome = 'enrolled' AND NOT (n.progress ? 'coverage_start');

-- A desa's covered members, for its printed batch of cards.
CREATE INDEX nominations_enrolled_desa ON nominations (desa_code) WHERE outcome = 'enrolled';
