"""`hailong_kiosk_store`: a known kiosk's response stored and counted in one PostgreSQL call (survey/respond/ingest.py).

Installed (CREATE OR REPLACE: a changed body takes effect at the next upgrade) by `survey.migrate.upgrade` on every
PostgreSQL upgrade, after Alembic: the schema's single migration is regenerated from the models
(tools/regen_migration.sh), which cannot carry a function.  SQLite has none and always takes the Python way.

The same rules as the Python way, step for step (survey/respond/api.py `_hinted_claim`, store.py `store_response`,
moments.py `add_response`, quarantine.py `month_cutoff`):
1. the kiosk row: credential, not revoked, its service point not retired and showing the version's questionnaire on
   its kiosks (api.kiosk_questionnaire_rule: another one is refused or held by the usual path), the response
   stated at most 10 minutes (store.MAX_CLOCK_SKEW) before the kiosk's first enrolment, the minimum
   interval (threshold NULL: none) — claimed and marked seen in the same UPDATE; no row → 'refused', nothing
   written;
2. the version is published with the checksum the caller parsed, else 'version';
3. the publication lock shared (held to commit), THEN the month's cut-off read by a statement of its own (so its
   snapshot is taken after the lock: a publication that committed while we waited is seen);
4. the response, `ON CONFLICT (client_id) DO NOTHING` → 'duplicate' when a resend;
5. answers and the comment; a response for a published month is kept 'late' and counted nowhere;
6. the response cell, then the answer cells in (item, value) order, then the moment cell FOR UPDATE (the lock
   order of every writer: survey/respond/quarantine.py); a new moment cell is inserted with the caller's u·uᵀ
   ('created'), an existing one is returned locked ('counted': the caller adds u·uᵀ and writes it).
Every outcome other than created/late/counted is rolled back by the caller.
"""

from __future__ import annotations

from typing import Any

FUNCTION = r"""
CREATE OR REPLACE FUNCTION hailong_kiosk_store(
    p_kiosk integer, p_digest text, p_threshold timestamptz, p_now timestamptz, p_received timestamptz,
    p_qv integer, p_checksum text, p_period date, p_client_id text, p_language text, p_submitted timestamptz,
    p_items integer[], p_values integer[], p_comment_item text, p_comment text, p_gram bytea, p_lock bigint,
    OUT o_outcome text, OUT o_response_id bigint, OUT o_service_point integer, OUT o_respondents integer,
    OUT o_gram bytea, OUT o_last_response_id bigint)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    v_agency integer;
    v_late boolean;
BEGIN
    UPDATE kiosk k SET last_submission_at = p_now, last_seen_at = p_now
    FROM service_point sp
    WHERE k.id = p_kiosk AND k.credential_hash = p_digest AND k.revoked_at IS NULL
      AND sp.id = k.service_point_id AND sp.retired_at IS NULL
      AND EXISTS (SELECT 1 FROM questionnaire_version q WHERE q.id = p_qv
                  AND q.instrument = coalesce(nullif(sp.kiosk_instrument, ''), 'counter-quick'))
      AND (k.enrolled_at IS NULL OR k.enrolled_at <= p_submitted + interval '10 minutes')
      AND (p_threshold IS NULL OR k.last_submission_at IS NULL OR k.last_submission_at <= p_threshold)
    RETURNING k.service_point_id, sp.agency_id INTO o_service_point, v_agency;
    IF NOT FOUND THEN
        o_outcome := 'refused';
        RETURN;
    END IF;
    PERFORM 1 FROM questionnaire_version WHERE id = p_qv AND status = 'published' AND checksum = p_checksum;
    IF NOT FOUND THEN
        o_outcome := 'version';
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(p_lock);
    SELECT max(cutoff_response_id) IS NOT NULL INTO v_late FROM published_period
    WHERE questionnaire_version_id = p_qv AND start <= p_period AND "end" >= p_period;
    INSERT INTO response (client_id, questionnaire_version_id, agency_id, service_point_id, kiosk_id, channel,
                          language, submitted_at, received_at, period, review_status, review_changed_at, review_reason)
    VALUES (p_client_id, p_qv, v_agency, o_service_point, p_kiosk, 'kiosk', p_language, p_submitted, p_received,
            p_period, CASE WHEN v_late THEN 'late' END, CASE WHEN v_late THEN p_received END,
            CASE WHEN v_late THEN 'received after publication' END)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO o_response_id;
    IF o_response_id IS NULL THEN
        o_outcome := 'duplicate';
        RETURN;
    END IF;
    INSERT INTO answer (response_id, item_id, value)
    SELECT o_response_id, u.i, u.v FROM unnest(p_items, p_values) AS u(i, v);
    IF p_comment IS NOT NULL THEN
        INSERT INTO comment (response_id, item_code, text) VALUES (o_response_id, p_comment_item, p_comment);
    END IF;
    IF v_late THEN
        o_outcome := 'late';
        RETURN;
    END IF;
    INSERT INTO response_tally AS t (questionnaire_version_id, service_point_id, period, channel, count)
    VALUES (p_qv, o_service_point, p_period, 'kiosk', 1)
    ON CONFLICT (questionnaire_version_id, service_point_id, period, channel) DO UPDATE SET count = t.count + 1;
    INSERT INTO answer_tally AS t (questionnaire_version_id, service_point_id, period, channel, item_id, value, count)
    SELECT p_qv, o_service_point, p_period, 'kiosk', u.i, u.v, count(*)
    FROM unnest(p_items, p_values) AS u(i, v) GROUP BY u.i, u.v ORDER BY u.i, u.v
    ON CONFLICT (questionnaire_version_id, service_point_id, period, channel, item_id, value)
    DO UPDATE SET count = t.count + excluded.count;
    SELECT m.respondents, m.gram, m.last_response_id INTO o_respondents, o_gram, o_last_response_id
    FROM moment_tally m
    WHERE m.questionnaire_version_id = p_qv AND m.service_point_id = o_service_point AND m.period = p_period
      AND m.channel = 'kiosk'
    FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO moment_tally (questionnaire_version_id, service_point_id, period, channel, respondents, gram,
                                  last_response_id)
        VALUES (p_qv, o_service_point, p_period, 'kiosk', 1, p_gram, o_response_id)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            o_outcome := 'created';
            RETURN;
        END IF;
        -- committed by another writer after this call began: read it again, locked (a statement of its own)
        SELECT m.respondents, m.gram, m.last_response_id INTO o_respondents, o_gram, o_last_response_id
        FROM moment_tally m
        WHERE m.questionnaire_version_id = p_qv AND m.service_point_id = o_service_point AND m.period = p_period
          AND m.channel = 'kiosk'
        FOR UPDATE;
    END IF;
    o_outcome := 'counted';
END
$fn$
"""


def install(connection: Any) -> None:
    """Create or replace the function (PostgreSQL only; a SQLAlchemy Connection inside the upgrade's transaction)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(FUNCTION)
