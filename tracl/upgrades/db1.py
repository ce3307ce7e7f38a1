"""Learning schema version 1: the tables, views, indexes and triggers that
hold learning paths and their concepts, concept metadata, prerequisites,
progress and graded attempts, Cognito sessions and the library's chunks.

- Times are Trac's: integer microseconds since the epoch, UTC.
- Every row that describes a concept ticket goes when the ticket goes
  (`ON DELETE CASCADE`), whoever deletes it.
- `attempts` hang off `progress` (a graded answer always has its learner's
  progress row), so they go with it.
- Trac's own tables only gain the indexes that the learning queries need
  and Trac lacks (by type, milestone, owner and custom field name).
"""

from tracl.schema import PG_SCHEMA, dialect, table_names

# Columns shared by both dialects, written once; `{pk_uuid}` and friends are
# the few types that differ.
_TABLES = """
CREATE TABLE {paths} (
    id {uuid} PRIMARY KEY,
    title varchar(200) NOT NULL,
    query_text text NOT NULL,
    cognito_user_id varchar(128) NOT NULL,
    created_at bigint NOT NULL,
    total_chunks integer NOT NULL DEFAULT 0
        CONSTRAINT chk_paths_total_chunks CHECK (total_chunks >= 0),
    question_difficulty integer NOT NULL DEFAULT 3
        CONSTRAINT chk_paths_difficulty
        CHECK (question_difficulty BETWEEN 1 AND 5),
    created_by varchar(100) {default_user}
);

CREATE TABLE {path_concepts} (
    path_id {uuid} NOT NULL
        REFERENCES {paths} (id) ON DELETE CASCADE,
    ticket_id integer NOT NULL
        REFERENCES {ticket} (id) ON DELETE CASCADE,
    position integer NOT NULL DEFAULT 0,
    added_at bigint NOT NULL,
    PRIMARY KEY (path_id, ticket_id)
);

CREATE TABLE {concept_metadata} (
    ticket_id integer PRIMARY KEY
        REFERENCES {ticket} (id) ON DELETE CASCADE,
    chunk_id varchar(128) NOT NULL,
    relevance {real}
        CONSTRAINT chk_concept_relevance CHECK (relevance BETWEEN 0 AND 1),
    cosine {real}
        CONSTRAINT chk_concept_cosine CHECK (cosine BETWEEN -1 AND 1),
    expected_answer text NOT NULL,
    question_generated {bool} NOT NULL DEFAULT {true},
    created_at bigint NOT NULL
);

CREATE TABLE {prerequisites} (
    concept_ticket_id integer NOT NULL
        REFERENCES {ticket} (id) ON DELETE CASCADE,
    prerequisite_ticket_id integer NOT NULL
        REFERENCES {ticket} (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    PRIMARY KEY (concept_ticket_id, prerequisite_ticket_id),
    CONSTRAINT chk_no_self
        CHECK (concept_ticket_id <> prerequisite_ticket_id)
);

CREATE TABLE {progress} (
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL
        REFERENCES {ticket} (id) ON DELETE CASCADE,
    status varchar(16) NOT NULL DEFAULT 'not_started'
        CONSTRAINT chk_status
        CHECK (status IN ('not_started', 'studying', 'mastered')),
    started_at bigint,
    last_accessed bigint,
    completed_at bigint,
    time_spent_minutes {real} NOT NULL DEFAULT 0
        CONSTRAINT chk_time_spent CHECK (time_spent_minutes >= 0),
    notes text,
    last_answer text,
    answer_score {real}
        CONSTRAINT chk_score CHECK (answer_score BETWEEN 0 AND 1),
    best_score {real}
        CONSTRAINT chk_best_score CHECK (best_score BETWEEN 0 AND 1),
    answer_feedback text,
    updated_by varchar(100) {default_user},
    update_count integer NOT NULL DEFAULT 0,
    PRIMARY KEY (cognito_user_id, ticket_id),
    CONSTRAINT chk_completed_when_mastered
        CHECK (status <> 'mastered' OR completed_at IS NOT NULL)
);

CREATE TABLE {attempts} (
    id {serial} PRIMARY KEY,
    cognito_user_id varchar(128) NOT NULL,
    ticket_id integer NOT NULL,
    attempt integer NOT NULL CONSTRAINT chk_attempt_number CHECK (attempt >= 1),
    answer text NOT NULL,
    score {real} NOT NULL
        CONSTRAINT chk_attempt_score CHECK (score BETWEEN 0 AND 1),
    feedback text,
    grader varchar(100) NOT NULL,
    grader_version varchar(100),
    model varchar(200),
    raw_output text,
    time_spent_seconds integer
        CONSTRAINT chk_attempt_time CHECK (time_spent_seconds >= 0),
    created_at bigint NOT NULL,
    CONSTRAINT uq_attempt_number UNIQUE (cognito_user_id, ticket_id, attempt),
    FOREIGN KEY (cognito_user_id, ticket_id)
        REFERENCES {progress} (cognito_user_id, ticket_id) ON DELETE CASCADE
);

CREATE TABLE {cognito_sessions} (
    cognito_sub varchar(128) PRIMARY KEY,
    access_token text,
    id_token text,
    refresh_token text,
    token_expires bigint,
    trac_session_id varchar(128),
    last_activity bigint,
    created_at bigint NOT NULL
);

CREATE TABLE {chunks} (
    id varchar(128) PRIMARY KEY,
    subject varchar(200) NOT NULL,
    concept varchar(200) NOT NULL,
    content text NOT NULL,
    has_prerequisite text,
    prerequisite_for text,
    difficulty_level integer NOT NULL DEFAULT 3
        CONSTRAINT chk_chunk_difficulty
        CHECK (difficulty_level BETWEEN 1 AND 5),
    source text,
    embedding {blob},
    embedding_model varchar(200),
    embedding_dim integer
        CONSTRAINT chk_embedding_dim CHECK (embedding_dim > 0),
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT uq_chunk_concept UNIQUE (subject, concept)
);
"""

# Indexes the learning queries need that neither a primary key nor a unique
# constraint already provides. On Trac's tables: only those Trac lacks
# (Trac indexes ticket(time) and ticket(status) itself).
_INDEXES = """
CREATE INDEX idx_paths_user ON {paths} (cognito_user_id, created_at);
CREATE INDEX idx_path_concepts_ticket ON {path_concepts} (ticket_id);
CREATE INDEX idx_concept_metadata_chunk ON {concept_metadata} (chunk_id);
CREATE INDEX idx_prerequisites_prereq
    ON {prerequisites} (prerequisite_ticket_id);
CREATE INDEX idx_progress_ticket ON {progress} (ticket_id);
CREATE INDEX idx_progress_status ON {progress} (status);
CREATE INDEX idx_progress_score ON {progress} (answer_score);
CREATE INDEX idx_attempts_ticket ON {attempts} (ticket_id);
CREATE INDEX idx_cognito_sessions_trac
    ON {cognito_sessions} (trac_session_id);
CREATE INDEX idx_cognito_sessions_expires
    ON {cognito_sessions} (token_expires);
CREATE INDEX idx_chunks_subject ON {chunks} (subject);
CREATE INDEX IF NOT EXISTS idx_ticket_type ON {ticket} (type);
CREATE INDEX IF NOT EXISTS idx_ticket_milestone ON {ticket} (milestone);
CREATE INDEX IF NOT EXISTS idx_ticket_owner ON {ticket} (owner);
CREATE INDEX IF NOT EXISTS idx_ticket_custom_name ON {ticket_custom} (name);
"""

_VIEWS = """
CREATE VIEW {user_progress_view} AS
SELECT p.cognito_user_id, t.id AS ticket_id, t.summary AS concept,
       t.milestone AS subject, tc_q.value AS question,
       tc_d.value AS difficulty, p.status, p.answer_score, p.best_score,
       p.last_answer, p.answer_feedback, p.time_spent_minutes,
       p.last_accessed
FROM {progress} p
JOIN {ticket} t ON p.ticket_id = t.id
LEFT JOIN {ticket_custom} tc_q ON t.id = tc_q.ticket AND tc_q.name = 'question'
LEFT JOIN {ticket_custom} tc_d
    ON t.id = tc_d.ticket AND tc_d.name = 'question_difficulty'
WHERE t.type = 'learning_concept';

CREATE VIEW {path_summary_view} AS
SELECT lp.id AS path_id, lp.title AS path_title, lp.cognito_user_id,
       lp.created_at,
       COUNT(DISTINCT pc.ticket_id) AS total_concepts,
       COUNT(DISTINCT CASE WHEN p.status = 'mastered'
                           THEN p.ticket_id END) AS mastered_concepts,
       COUNT(DISTINCT CASE WHEN p.status = 'studying'
                           THEN p.ticket_id END) AS studying_concepts,
       ROUND(100.0 * COUNT(DISTINCT CASE WHEN p.status = 'mastered'
                                         THEN p.ticket_id END)
             / NULLIF(COUNT(DISTINCT pc.ticket_id), 0), 1)
           AS completion_percentage
FROM {paths} lp
LEFT JOIN {path_concepts} pc ON lp.id = pc.path_id
LEFT JOIN {progress} p
    ON pc.ticket_id = p.ticket_id AND p.cognito_user_id = lp.cognito_user_id
GROUP BY lp.id, lp.title, lp.cognito_user_id, lp.created_at;
"""

# The audit trigger: every update of a progress row counts its versions
# and names the database role that wrote it, whoever writes it. PostgreSQL rewrites the row before the
# update; SQLite cannot assign to NEW, so it counts after the update (the
# WHEN clause keeps the trigger from firing on its own update).
_PG_TRIGGER = """
CREATE OR REPLACE FUNCTION {schema}.update_audit_fields()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_by = current_user;
    NEW.update_count = OLD.update_count + 1;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER progress_audit_trigger
BEFORE UPDATE ON {progress}
FOR EACH ROW EXECUTE FUNCTION {schema}.update_audit_fields();
"""

_SQLITE_TRIGGER = """
CREATE TRIGGER learning_progress_audit_trigger
AFTER UPDATE ON {progress}
FOR EACH ROW WHEN NEW.update_count = OLD.update_count
BEGIN
    UPDATE {progress} SET update_count = OLD.update_count + 1
    WHERE cognito_user_id = OLD.cognito_user_id
      AND ticket_id = OLD.ticket_id;
END;
"""


def _statements(script):
    """Split a script into statements at the lines ending in `;`, keeping
    the bodies of functions and triggers (`AS $$` or `BEGIN` to `END;` or
    `$$ LANGUAGE ...;`) whole."""
    statements, lines, closer = [], [], None
    for line in script.strip().splitlines():
        lines.append(line)
        stripped = line.strip()
        if closer is None and stripped.endswith('AS $$'):
            closer = '$$ LANGUAGE'
        elif closer is None and stripped == 'BEGIN':
            closer = 'END;'
        elif closer is not None and stripped.startswith(closer):
            closer = None
        if stripped.endswith(';') and closer is None:
            statements.append('\n'.join(lines).strip().rstrip(';'))
            lines = []
    return statements


def ddl(dialect_name, trac_schema=None):
    """The statements that create schema version 1 in `dialect_name`."""
    names = table_names(dialect_name)
    if dialect_name == 'postgres':
        trac = '"%s".' % trac_schema if trac_schema else ''
        names.update(uuid='uuid', real='double precision', bool='boolean',
                      true='true', serial='bigint GENERATED BY DEFAULT AS '
                      'IDENTITY', blob='bytea',
                      default_user='DEFAULT current_user',
                      schema=PG_SCHEMA, ticket=trac + 'ticket',
                      ticket_custom=trac + 'ticket_custom')
        script = _TABLES + _INDEXES + _VIEWS + _PG_TRIGGER
        prologue = ['CREATE SCHEMA IF NOT EXISTS %s' % PG_SCHEMA]
    else:
        names.update(uuid='text', real='real', bool='integer', true='1',
                     serial='integer', blob='blob', default_user='',
                     ticket='ticket', ticket_custom='ticket_custom')
        script = _TABLES + _INDEXES + _VIEWS + _SQLITE_TRIGGER
        prologue = []
    return prologue + [s.format(**names) for s in _statements(script)]


def do_upgrade(env, version, cursor):
    dialect_name = dialect(env)
    trac_schema = None
    if dialect_name == 'postgres':
        cursor.execute('SELECT current_schema()')
        trac_schema = cursor.fetchone()[0]
    for statement in ddl(dialect_name, trac_schema):
        cursor.execute(statement)
